"""The notifier's own database: where it is by default, what `trellis migrate` does to it, and
that a ledger written before the move is carried over (a touch sent then is never sent again)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner

from console.cli import app
from console.databases import database_urls, migrate_all
from services.notifier.settings import NotifierDatabase, NotifierSettings
from services.notifier.tables import rate_budget, send_ledger
from trellis.db import create_engine

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_on_sqlite_the_notifier_has_a_file_of_its_own_beside_the_orchestrators() -> None:
    s = NotifierDatabase(database_url="sqlite:////data/trellis.db")
    assert s.shared_database_url == "sqlite+aiosqlite:////data/trellis.db"
    assert s.resolved_database_url == "sqlite+aiosqlite:////data/trellis-notifier.db"
    assert database_urls(s) == [s.shared_database_url, s.resolved_database_url]
    default = NotifierSettings(data_dir=Path("/tmp/d"))
    assert default.resolved_database_url.endswith("/tmp/d/trellis-notifier.db")


def test_on_postgresql_the_notifier_shares_the_database_unless_told() -> None:
    shared = NotifierDatabase(database_url="postgres://trellis@db/trellis", database_password="pw")
    assert shared.resolved_database_url == "postgresql+asyncpg://trellis:pw@db/trellis"
    assert database_urls(shared) == [shared.resolved_database_url]
    own = shared.model_copy(update={"notifier_database_url": "postgresql://trellis@db/ledger"})
    assert own.resolved_database_url == "postgresql+asyncpg://trellis:pw@db/ledger"
    sqlite_told = NotifierDatabase(
        database_url="sqlite:///a.db", notifier_database_url="sqlite:///b.db"
    )
    assert sqlite_told.resolved_database_url == "sqlite+aiosqlite:///b.db"


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_trellis_migrate_migrates_both_files(tmp_path: Path) -> None:
    env = {"TRELLIS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    done = CliRunner().invoke(app, ["migrate"], env=env)
    assert done.exit_code == 0 and "databases at heads" in done.output, done.output
    assert {"contacts", "send_ledger"} <= _tables(tmp_path / "cli.db")
    assert {"send_ledger", "rate_budget"} <= _tables(tmp_path / "cli-notifier.db")
    down = CliRunner().invoke(app, ["migrate", "--down", "--revision", "base"], env=env)
    assert down.exit_code == 0, down.output
    assert "send_ledger" not in _tables(tmp_path / "cli-notifier.db")


@pytest.mark.parametrize(
    ("database_url", "blank_database_url"),
    [("sqlite", "sqlite"), ("postgresql", "postgresql")],
    indirect=True,
)
async def test_a_ledger_written_before_the_move_is_carried_into_the_new_database(
    database_url: str, blank_database_url: str
) -> None:
    shared = create_engine(database_url)
    async with shared.begin() as conn:  # what the notifier sent while it shared the database
        await conn.execute(insert(send_ledger), [
            {"touch_id": f"t-{i}", "channel": "email", "status": "sent", "attempts": 1,
             "created_at": NOW, "updated_at": NOW} for i in range(7_001)
        ])  # fmt: skip
        await conn.execute(insert(rate_budget), [{"provider": "smtp", "tat": 1234.5}])
    await shared.dispose()
    settings = NotifierDatabase(database_url=database_url, notifier_database_url=blank_database_url)
    assert await migrate_all(settings) == [database_url, blank_database_url]
    await migrate_all(settings)  # again: nothing copied twice
    own = create_engine(blank_database_url)
    try:
        async with own.connect() as conn:
            ids = (await conn.execute(select(send_ledger.c.touch_id))).scalars().all()
            tat = (await conn.execute(select(rate_budget.c.tat))).scalar_one()
    finally:
        await own.dispose()
    assert sorted(ids) == sorted(f"t-{i}" for i in range(7_001)) and tat == 1234.5
