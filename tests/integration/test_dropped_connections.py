"""Pooled PostgreSQL connections the server dropped (a restart, a failover, an idle timeout):
the engine pings nothing on checkout, so the first unit of work after the drop fails, as a
failure every consumer retries and the ops API answers 503, and the next one runs on fresh
connections: one failure for the whole pool, not one per pooled connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.orchestrator.ops.auth import Scope
from tests.integration.ops_client import ops_client
from trellis.consumer import is_transient
from trellis.db import create_engine

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _backend_pid(conn: AsyncConnection) -> int:
    return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _drop_pool(engine: AsyncEngine, database_url: str, size: int) -> list[int]:
    """Fill the pool with ``size`` open connections, then have the server end them all."""
    held = [await engine.connect() for _ in range(size)]
    pids = [await _backend_pid(c) for c in held]
    for c in held:
        await c.close()  # back to the pool, still open
    url = make_url(database_url)
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        for pid in pids:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        for _ in range(100):  # the server ends them asynchronously
            alive = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
            )
            if alive == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await admin.close()
    return pids


async def test_a_dropped_pool_costs_one_retried_failure(postgresql_url: str) -> None:
    engine = create_engine(postgresql_url)
    try:
        dropped = await _drop_pool(engine, postgresql_url, 3)

        with pytest.raises(DBAPIError) as failed:
            async with engine.begin() as conn:
                await conn.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        assert is_transient(failed.value)  # the consumers retry it; nothing is dead-lettered

        fresh = []
        for _ in range(3):  # every other pooled connection was dropped too: none is handed out
            async with engine.begin() as conn:
                fresh.append(await _backend_pid(conn))
        assert not set(fresh) & set(dropped)
    finally:
        await engine.dispose()


async def test_the_ops_api_answers_503_with_a_retry_then_serves(postgresql_url: str) -> None:
    engine = create_engine(postgresql_url)
    try:
        clock = lambda: datetime(2026, 11, 27, 12, tzinfo=UTC)  # noqa: E731
        async with ops_client(engine, postgresql_url, clock, Scope.READ) as http:
            assert (await http.get("/v1/contacts")).status_code == 200
            await _drop_pool(engine, postgresql_url, 2)
            down = await http.get("/v1/contacts")
            assert down.status_code == 503
            assert down.headers["retry-after"] == "1"
            assert down.json()["detail"]["error"] == "database_unavailable"
            assert (await http.get("/v1/contacts")).status_code == 200
    finally:
        await engine.dispose()
