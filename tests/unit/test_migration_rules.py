"""Expand/contract is checked, not only documented: a revision may not rewrite, retype, rename
or drop a column of a table it adds a column to (trellis/migration_rules.py)."""

from __future__ import annotations

import pytest

from trellis.migration_rules import all_violations, violations_in

SHIPPED_BEFORE_THE_RULE = {
    # Each rewrites an old column in the release that adds its replacement: old instances
    # reading the column mid-upgrade see the new values. Already applied everywhere, so they
    # stay; a new revision doing this fails below. Upgrade across them with the services
    # stopped (docs/operations.md, section 6).
    "0101: rewrites send_ledger.error in the revision that adds",
    "0201: rewrites sources.kind in the revision that adds",
}


def test_no_revision_rewrites_what_the_previous_release_reads() -> None:
    assert {str(v) for v in all_violations()} == SHIPPED_BEFORE_THE_RULE


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("ALTER TABLE t ADD COLUMN b INT;\nUPDATE t SET b=1 WHERE a > 0;", []),  # backfill: fine
        ("ALTER TABLE t ADD COLUMN b INT;\nUPDATE t SET a=lower(a), b=1;", ["rewrites t.a"]),
        ("ALTER TABLE t ADD COLUMN b INT;\nALTER TABLE t ALTER COLUMN a TYPE TEXT;",
         ["retypes/drops/renames t.a"]),
        ("ALTER TABLE t ADD COLUMN b INT;\nALTER TABLE t DROP COLUMN a;",
         ["retypes/drops/renames t.a"]),
        ("ALTER TABLE t ADD COLUMN b INT;\nALTER TABLE t RENAME COLUMN a TO c;",
         ["retypes/drops/renames t.a"]),
        ("ALTER TABLE u DROP COLUMN a;\nUPDATE t SET a=1;", []),  # contract: no new column
        ("ALTER TABLE t ADD COLUMN b INT;\nUPDATE other SET a=1;", []),
    ],
)  # fmt: skip
def test_the_rule_on_sql(sql: str, found: list[str]) -> None:
    assert [f"{v.what} {v.table}.{v.column}" for v in violations_in("r", sql)] == found
