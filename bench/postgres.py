"""The throwaway PostgreSQL databases of ``bench e2e`` and ``python -m chaos`` (on the local
server named by ``TRELLIS_TEST_PG_*``, as the tests use)."""

from __future__ import annotations

import os
import uuid

import asyncpg  # type: ignore[import-untyped]

PG_HOST = os.environ.get("TRELLIS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TRELLIS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TRELLIS_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("TRELLIS_TEST_PG_DB", "postgres")


async def create_database() -> tuple[str, str]:
    """A fresh, empty PostgreSQL database: (its name, its direct asyncpg URL)."""
    name = f"trellis_e2e_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name, pg_url(name, PG_PORT)


def pg_url(name: str, port: int) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{port}/{name}"


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def postgres_reachable() -> bool:
    try:
        conn = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=3
        )
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def asyncpg_dsn(name: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
