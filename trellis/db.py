"""The one home of database plumbing: metadata, engines and sessions.

Engines are built by the caller (a service's lifespan, a CLI command, a test fixture) from
settings; nothing connects at import time. SQLite gets WAL, a busy timeout and foreign keys so
the embedded default behaves like a small server rather than a file lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_Processor = Callable[[Any], Any]

metadata = MetaData(naming_convention=NAMING_CONVENTION)
"""Every Trellis table is declared on this metadata (see ``console.tables``)."""


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> _Processor | None:
        """On SQLite, one C call per value (``isoformat``) instead of ``process_bind_param``
        then SQLAlchemy's ``%``-formatting: bulk inserts bind several datetimes per row, and
        this was a tenth of the SQLite orchestrator's CPU. The text is SQLAlchemy's storage
        format to the character (``YYYY-MM-DD HH:MM:SS.ffffff``), so old and new rows compare
        and sort alike."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        return sqlite_datetime

    def result_processor(self, dialect: Dialect, coltype: object) -> _Processor | None:
        """On SQLite, ``datetime.fromisoformat`` (C) reads the stored text."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


def sqlite_datetime(value: datetime | None) -> str | None:
    """An aware datetime as SQLite stores a ``UtcDateTime``: UTC, SQLAlchemy's text format
    (``YYYY-MM-DD HH:MM:SS.ffffff``). For statements that bind below SQLAlchemy's types."""
    if value is None:
        return None
    offset = value.utcoffset()  # cheaper than astimezone, and most values are UTC already
    if offset is None:
        raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
    wall = value.replace(tzinfo=None)
    return (wall - offset if offset else wall).isoformat(" ", "microseconds")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def json_dumps(value: Any) -> str:
    """JSON columns via orjson: several times faster than ``json``; ``orjson.Fragment`` embeds
    already-serialised JSON (a pydantic ``model_dump_json``) without parsing it again."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine with the pragmas and pool settings Trellis expects for ``url``.

    Parameters are hidden from SQLAlchemy's error messages and logs: its ``[parameters: ...]``
    would put contacts' emails and phone numbers into every logged database error."""
    kwargs["hide_parameters"] = True
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # Plan every execution for its parameters: asyncpg prepares each statement once per
    # connection, and PostgreSQL switches a prepared statement to a generic plan after five
    # runs. A generic plan made while a table was small (a seq scan for ``alias = ANY(:ids)``)
    # stays in use as the table grows: 5 ms became 30-150 ms per batch in bench/speed_to_lead.
    # A custom plan sees the table's current size, for ~0.1 ms of planning.
    if make_url(url).get_driver_name() == "asyncpg":
        settings = kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})
        settings.setdefault("plan_cache_mode", "force_custom_plan")
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # No ping on checkout: SQLAlchemy's asyncpg ping is three round trips (BEGIN, ";",
    # ROLLBACK) before every unit of work, a sixth of the orchestrator's round trips in bench
    # e2e. A connection the server dropped fails its first statement instead; SQLAlchemy then
    # invalidates the whole pool (one failure, not one per pooled connection) and every caller
    # retries such a failure (``trellis.consumer.is_transient``, the scheduler's next round).
    kwargs.setdefault("pool_pre_ping", False)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache per connection (SQLite's default is 2 MiB), allocated as used. A
    # primary key of random ids (touch ids, event ids) is written all over its index: once the
    # index outgrows the cache every insert reads pages back through the OS, and the send
    # ledger's CPU per message grew 28% from 10k to 1M rows.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction: committed on success, rolled back on any exception."""
    async with engine.begin() as conn:
        yield conn
