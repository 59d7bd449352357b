"""Revision 0210: contacts and accounts leave a fifth of each page free on PostgreSQL, so the
row update every batch makes (state, score, stage, times: no indexed column) is a HOT update,
written on its own page with no new index entry, instead of a new row version elsewhere and an
entry in every index of the table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from trellis.db import create_engine

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
PADDING = "x" * 900  # rows of ~1 KB: a full 8 KB page has no room for another version


async def _hot_updates(url: str, table: str, insert: str, update: str) -> tuple[int, int]:
    """Insert 200 rows, then in a new transaction update every 10th one (each on its own
    page): (updates, of them HOT, as the transaction's own statistics count them)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for i in range(200):
                await conn.execute(text(insert), {"id": f"r{i:03}", "pad": PADDING, "now": NOW})
        async with engine.begin() as conn:
            changed = 0
            for i in range(0, 200, 10):
                changed += (await conn.execute(text(update), {"id": f"r{i:03}"})).rowcount
            hot = await conn.scalar(
                text("SELECT pg_stat_get_xact_tuples_hot_updated(CAST(:t AS regclass))"),
                {"t": table},
            )
        return changed, int(hot)
    finally:
        await engine.dispose()


async def test_contact_and_account_updates_are_hot(postgresql_url: str) -> None:
    engine = create_engine(postgresql_url)
    try:
        async with engine.connect() as conn:
            options = dict(
                (await conn.execute(text(
                    "SELECT relname, array_to_string(reloptions, ',') FROM pg_class "
                    "WHERE relname IN ('contacts', 'accounts')"
                ))).all()
            )  # fmt: skip
    finally:
        await engine.dispose()
    assert options == {"contacts": "fillfactor=80", "accounts": "fillfactor=80"}

    contacts = await _hot_updates(
        postgresql_url,
        "contacts",
        "INSERT INTO contacts (id, stage, score, fit, traits, state, created_at, updated_at) "
        "VALUES (:id, 'engaged', 1, 0, CAST('{}' AS json), json_build_array(CAST(:pad AS text)), "
        ":now, :now)",
        "UPDATE contacts SET score = score + 1, stage = 'mql', updated_at = now() WHERE id = :id",
    )
    accounts = await _hot_updates(
        postgresql_url,
        "accounts",
        "INSERT INTO accounts (id, stage, score, fit, traits, state, created_at, updated_at) "
        "VALUES (:id, 'engaged', 1, 0, CAST('{}' AS json), json_build_array(CAST(:pad AS text)), "
        ":now, :now)",
        "UPDATE accounts SET score = score + 1, stage = 'mql', updated_at = now() WHERE id = :id",
    )
    assert contacts == (20, 20)
    assert accounts == (20, 20)
