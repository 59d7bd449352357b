"""``UtcDateTime`` on a real database: aware UTC in, aware UTC out, whatever zone was given, and
on SQLite the stored text is SQLAlchemy's own format, so rows written before the fast path and
after it compare and sort as one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from trellis.db import UtcDateTime, create_engine

ASYNC = pytest.mark.asyncio(loop_scope="session")
meta = MetaData()
stamps = Table("stamps", meta, Column("id", Integer, primary_key=True), Column("at", UtcDateTime))


async def _table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(meta.drop_all)
        await conn.run_sync(meta.create_all)


@ASYNC
async def test_any_zone_in_aware_utc_out(engine: AsyncEngine) -> None:
    await _table(engine)
    given_at = [
        datetime(2026, 11, 18, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")),
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(stamps), [{"id": i, "at": d} for i, d in enumerate(given_at)])
        await conn.execute(insert(stamps).values(id=99, at=None))
        got = dict((await conn.execute(select(stamps.c.id, stamps.c.at))).all())
        later = (
            (
                await conn.execute(
                    select(stamps.c.id).where(
                        stamps.c.at > datetime(2026, 11, 18, 11, 59, tzinfo=UTC)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert got[99] is None
    for i, d in enumerate(given_at):
        assert got[i] == d and got[i].tzinfo is UTC  # the same instant, spelled in UTC
    assert later == [0]  # 12:00:00.123456 UTC is the only one after 11:59 UTC that day


@ASYNC
async def test_naive_datetime_is_refused(engine: AsyncEngine) -> None:
    await _table(engine)
    with pytest.raises(Exception, match="naive datetime"):
        async with engine.begin() as conn:
            await conn.execute(insert(stamps).values(id=1, at=datetime(2026, 1, 1)))


@ASYNC
async def test_sqlite_text_is_sqlalchemys_own_format(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'stamps.db'}")
    try:
        await _table(engine)
        at = datetime(2026, 11, 18, 12, 0, 5, 7, tzinfo=timezone(timedelta(hours=-5)))
        async with engine.begin() as conn:
            await conn.execute(insert(stamps).values(id=1, at=at))
            # a row as an older release (or a hand-written statement) stored it
            await conn.execute(
                text("INSERT INTO stamps (id, at) VALUES (2, '2026-11-18 17:00:06')")
            )
            stored = (await conn.execute(text("SELECT at FROM stamps WHERE id = 1"))).scalar()
            ordered = (await conn.execute(select(stamps.c.id).order_by(stamps.c.at))).all()
            back = (await conn.execute(select(stamps.c.at).where(stamps.c.id == 2))).scalar()
        assert stored == "2026-11-18 17:00:05.000007"
        assert [r[0] for r in ordered] == [1, 2]
        assert back == datetime(2026, 11, 18, 17, 0, 6, tzinfo=UTC)
    finally:
        await engine.dispose()


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
def test_sqlite_bind_text_equals_sqlalchemy_datetime(value: datetime) -> None:
    """The fast bind gives, for every instant, the text SQLAlchemy's SQLite ``DATETIME`` gave."""
    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = UtcDateTime.impl.dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value.replace(tzinfo=None))
    read = UtcDateTime().dialect_impl(dialect).result_processor(dialect, None)
    assert read is not None and read(ours(value)) == value
