"""Expand/contract, checked: a revision that adds a column must not rewrite, retype, rename or
drop the columns of that table that the previous release's code still reads.

During a rolling upgrade the old code runs against the new schema (docs/operations.md, section
6). A revision that adds ``retryable`` and in the same step strips a prefix from ``error`` breaks
every old instance reading ``error``: the rewrite belongs to the next release, once no old code
runs. The check reads the SQL each revision emits for PostgreSQL (alembic's offline mode: no
database needed) rather than the migration's Python, so it sees what will run.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from alembic import command
from alembic.script import ScriptDirectory

from trellis.migrate import alembic_config

OFFLINE_URL = "postgresql+asyncpg://offline@localhost/offline"  # never connected to
_ADD = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.IGNORECASE)
_UPDATE = re.compile(r"UPDATE (\w+) SET (.+?)(?: WHERE |$)", re.IGNORECASE | re.DOTALL)
_SET_COLUMN = re.compile(r"(?:^|,)\s*(\w+)\s*=")
_DESTRUCTIVE = re.compile(
    r"ALTER TABLE (\w+) (?:ALTER COLUMN (\w+) TYPE|DROP COLUMN (\w+)|RENAME COLUMN (\w+))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Violation:
    revision: str
    table: str
    column: str
    what: str

    def __str__(self) -> str:
        return f"{self.revision}: {self.what} {self.table}.{self.column} in the revision that adds"


def violations_in(revision: str, sql: str) -> list[Violation]:
    """The rule applied to one revision's SQL."""
    added: dict[str, set[str]] = {}
    for table, column in _ADD.findall(sql):
        added.setdefault(table.lower(), set()).add(column.lower())
    found = []
    for statement in sql.split(";"):
        if update := _UPDATE.search(statement):
            table = update.group(1).lower()
            for column in _SET_COLUMN.findall(update.group(2)):
                if table in added and column.lower() not in added[table]:
                    found.append(Violation(revision, table, column.lower(), "rewrites"))
        for table, *columns in _DESTRUCTIVE.findall(statement):
            column = next(c for c in columns if c).lower()
            if table.lower() in added and column not in added[table.lower()]:
                found.append(Violation(revision, table.lower(), column, "retypes/drops/renames"))
    return found


def revision_sql(down: str, revision: str) -> str:
    config = alembic_config(OFFLINE_URL)
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, f"{down}:{revision}", sql=True)
    return buffer.getvalue()


def all_violations() -> list[Violation]:
    """Every revision after the first, checked on its own."""
    script = ScriptDirectory.from_config(alembic_config(OFFLINE_URL))
    found: list[Violation] = []
    for rev in script.walk_revisions():
        if isinstance(rev.down_revision, str):
            found += violations_in(rev.revision, revision_sql(rev.down_revision, rev.revision))
    return found
