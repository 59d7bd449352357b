"""Migrations run both ways on SQLite and PostgreSQL and match the table definitions."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from console.tables import metadata
from trellis.db import create_engine
from trellis.migrate import downgrade_async, upgrade_async

EXPECTED = {
    "inbox", "accounts", "contacts", "identity_aliases", "stage_history", "decisions",
    "touches", "consent_ledger", "reminders", "send_ledger", "sources",
}  # fmt: skip


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_round_trips(database_url: str) -> None:
    assert await _tables(database_url) >= EXPECTED
    await downgrade_async(database_url, "base")
    assert await _tables(database_url) <= {"alembic_version"}
    await upgrade_async(database_url)
    assert await _tables(database_url) >= EXPECTED


async def test_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], f"tables and migrations disagree; write a migration: {diff}"
