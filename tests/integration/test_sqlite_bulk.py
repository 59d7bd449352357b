"""``sqlite_bulk``: rows written below SQLAlchemy's parameter processing are stored exactly as
SQLAlchemy's own executemany stored them (text, JSON, timestamps in any zone, NULLs, floats),
and an upsert compiled once updates as the statement says."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters import sqlite_bulk
from services.orchestrator.adapters.tables import decisions, touches
from tests.conftest import Backends
from trellis.db import create_engine

ASYNC = pytest.mark.asyncio(loop_scope="session")
COLUMNS = (
    ("contact_id", "text"), ("account_id", "text"), ("touch_id", "text"), ("kind", "text"),
    ("reason", "text"), ("facts", "json"), ("event_id", "text"), ("playbook_version", "text"),
    ("decided_at", "timestamptz"),
)  # fmt: skip


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_engine(backends: Backends, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    target = tmp_path / "bulk.db"
    shutil.copyfile(backends.sqlite_template, target)
    engine = create_engine(f"sqlite+aiosqlite:///{target}")
    yield engine
    await engine.dispose()


def _rows(tag: str) -> list[tuple[object, ...]]:
    berlin = timezone(timedelta(hours=1))
    return [
        (f"c-{tag}", None, None, "touch_planned", "NEW", '{"a": [1, 2.5, "\\u00e9\\""]}',
         "e1", "v1", datetime(2026, 11, 18, 12, 0, 0, 1, tzinfo=UTC)),
        (None, f"a-{tag}", "t1", "touch_skipped", "CAP", "{}", None, "v2",
         datetime(2026, 11, 18, 13, 30, tzinfo=berlin)),
    ]  # fmt: skip


async def _stored(engine: AsyncEngine, contact: str, account: str) -> list[tuple[object, ...]]:
    sql = text(
        "SELECT contact_id, account_id, touch_id, kind, reason, facts, event_id, "
        "playbook_version, decided_at FROM decisions "
        "WHERE contact_id = :c OR account_id = :a ORDER BY id"
    )
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(sql, {"c": contact, "a": account})]


@ASYNC
async def test_rows_are_stored_as_sqlalchemy_stores_them(sqlite_engine: AsyncEngine) -> None:
    names = [c for c, _ in COLUMNS]
    async with sqlite_engine.begin() as conn:
        await sqlite_bulk.insert_many(conn, "test-decisions", decisions.insert(), COLUMNS,
                                      _rows("fast"))  # fmt: skip
        slow = [dict(zip(names, r, strict=True)) for r in _rows("slow")]
        for d in slow:
            d["facts"] = orjson.loads(str(d["facts"]))
        await conn.execute(decisions.insert(), slow)
    fast = await _stored(sqlite_engine, "c-fast", "a-fast")
    theirs = await _stored(sqlite_engine, "c-slow", "a-slow")
    assert len(fast) == 2
    for ours, sa in zip(fast, theirs, strict=True):
        ids = {"c-fast": "c-slow", "a-fast": "a-slow"}
        assert tuple(ids.get(v, v) if isinstance(v, str) else v for v in ours[:2]) == sa[:2]
        assert ours[2:5] == sa[2:5] and ours[6:] == sa[6:]
        assert orjson.loads(str(ours[5])) == orjson.loads(str(sa[5]))
    assert fast[1][8] == "2026-11-18 12:30:00.000000"  # Berlin winter time, in UTC


@ASYNC
async def test_dict_rows_and_conflicts(sqlite_engine: AsyncEngine) -> None:
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    now = datetime(2026, 11, 18, 12, tzinfo=UTC)
    row = {
        "id": "touch-1", "contact_id": "c1", "account_id": None, "channel": "email",
        "template_id": "welcome", "stage": "engaged", "sequence_step": "s1",
        "status": "planned", "due_at": now, "created_at": now,
    }  # fmt: skip
    stmt = sqlite_insert(touches).on_conflict_do_nothing()
    async with sqlite_engine.begin() as conn:
        await sqlite_bulk.insert_dicts(conn, "test-touches", stmt, touches, [row])
        again = dict(row, template_id="changed", due_at=now + timedelta(days=1))
        await sqlite_bulk.insert_dicts(conn, "test-touches", stmt, touches, [again])
        stored = (
            await conn.execute(text("SELECT template_id, due_at FROM touches WHERE id='touch-1'"))
        ).one()
    assert tuple(stored) == ("welcome", "2026-11-18 12:00:00.000000")  # the first one stays


@ASYNC
async def test_a_statement_binding_an_unknown_column_is_refused(
    sqlite_engine: AsyncEngine,
) -> None:
    stmt = decisions.insert().values(kind=text(":other"))
    async with sqlite_engine.begin() as conn:
        with pytest.raises(ValueError, match="not among the row's columns"):
            await sqlite_bulk.insert_many(conn, "test-unknown", stmt, COLUMNS[:2], [("c", None)])
