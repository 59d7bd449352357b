"""Fixtures on real parts: a Tansu broker, SQLite always, PostgreSQL when reachable.

Databases are migrated once per backend per session with ``alembic upgrade head`` into a template;
each test gets a clone (a file copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so
tests are isolated and cheap. PostgreSQL cases skip with a visible reason where no server answers.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from trellis.broker import BrokerError, EmbeddedBroker, free_port
from trellis.db import create_engine
from trellis.migrate import upgrade_async
from trellis.settings import TrellisSettings

PG_HOST = os.environ.get("TRELLIS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TRELLIS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TRELLIS_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("TRELLIS_TEST_PG_DB", "test")
RUN_ID = uuid.uuid4().hex[:8]


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin() -> asyncpg.Connection:
    return await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=3
    )


@dataclass
class Backends:
    sqlite_template: Path
    pg_template: str | None
    pg_unavailable: str
    pg_created: list[str]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def backends(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Backends]:
    sqlite_template = tmp_path_factory.mktemp("db") / "template.db"
    await upgrade_async(f"sqlite+aiosqlite:///{sqlite_template}")
    pg_template: str | None = None
    reason = ""
    created: list[str] = []
    try:
        admin = await _pg_admin()
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {type(exc).__name__}: {exc}"
    else:
        pg_template = f"trellis_tpl_{RUN_ID}"
        await admin.execute(f'CREATE DATABASE "{pg_template}"')
        created.append(pg_template)
        await admin.close()
        await upgrade_async(pg_url(pg_template))
    yield Backends(sqlite_template, pg_template, reason, created)
    if created:
        admin = await _pg_admin()
        try:
            for name in reversed(created):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(params=["sqlite", "postgresql"], loop_scope="session")
async def database_url(
    request: pytest.FixtureRequest, backends: Backends, tmp_path: Path
) -> AsyncIterator[str]:
    """A freshly migrated database of each backend; the same test runs on both."""
    if request.param == "sqlite":
        target = tmp_path / "trellis.db"
        shutil.copyfile(backends.sqlite_template, target)
        # the notifier's own file by default (NotifierDatabase), migrated as `trellis migrate` does
        shutil.copyfile(backends.sqlite_template, tmp_path / "trellis-notifier.db")
        yield f"sqlite+aiosqlite:///{target}"
        return
    yield await _pg_database(backends, migrated=True)


@pytest_asyncio.fixture(loop_scope="session")
async def postgresql_url(backends: Backends) -> str:
    """A freshly migrated PostgreSQL database, for what only a server can do (drop a client)."""
    return await _pg_database(backends, migrated=True)


@pytest_asyncio.fixture(params=["sqlite", "postgresql"], loop_scope="session")
async def blank_database_url(
    request: pytest.FixtureRequest, backends: Backends, tmp_path: Path
) -> AsyncIterator[str]:
    """An empty database of each backend, not migrated: for migration and start-up tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    yield await _pg_database(backends, migrated=False)


async def _pg_database(backends: Backends, migrated: bool) -> str:
    """A new PostgreSQL database (a clone of the migrated template, or empty), dropped at the
    end of the session; skips the test where no server answers."""
    if backends.pg_template is None:
        pytest.skip(backends.pg_unavailable)
    name = f"trellis_{'t' if migrated else 'b'}_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    template = f' TEMPLATE "{backends.pg_template}"' if migrated else ""
    admin = await _pg_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"{template}')
    finally:
        await admin.close()
    backends.pg_created.append(name)
    return pg_url(name)


@pytest_asyncio.fixture(loop_scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real Tansu broker for the session, on a free loopback port."""
    yield from _broker(tmp_path_factory)


@pytest.fixture
def isolated_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """A broker of this test's own, for tests that count everything on a topic."""
    yield from _broker(tmp_path_factory)


def _broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    import asyncio

    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    for attempt in range(3):  # parallel workers pick free ports too: one may win ours first
        embedded = EmbeddedBroker("127.0.0.1", free_port(), log_path=log_path)
        try:
            asyncio.run(embedded.start())
            break
        except BrokerError:
            if attempt == 2:
                raise
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture
def settings(broker: EmbeddedBroker, database_url: str, tmp_path: Path) -> TrellisSettings:
    """Base settings for a test: the session broker, this test's database, its temp dir.

    Service settings are built from it: ``OrchestratorSettings(**settings.model_dump())``.
    """
    return TrellisSettings(
        env="test",
        kafka_bootstrap=broker.bootstrap,
        kafka_idempotence=False,  # Tansu refuses InitProducerId
        database_url=database_url,
        data_dir=tmp_path,
        topic_partitions=3,
    )


SLOWEST_FIRST = (
    "tests/security/test_schemathesis.py", "tests/integration/test_ops_api.py",
    "tests/integration/test_orchestrator_processes.py",
    "tests/integration/test_orchestrator_lanes.py", "tests/integration/test_redispatch_stale.py",
    "tests/e2e/test_dev_keeps_going.py", "tests/e2e/test_chaos_smoke.py",
    "tests/integration/test_kafka_plumbing.py", "tests/e2e/test_dev_pipeline.py",
    "tests/integration/test_orchestrator_outcomes.py",
    "tests/integration/test_orchestrator_touches.py", "tests/integration/test_ingest_callbacks.py",
    "tests/e2e/test_dashboard_browser.py", "tests/integration/test_ingest_native.py",
    "tests/integration/test_reminders_lane.py", "tests/integration/test_handoffs_live.py",
    "tests/integration/test_online_upgrade.py",
)  # fmt: skip
"""Test files by their measured time (slowest first, from a junit report of the whole suite on
this machine, 2026-11-26). ``make test`` hands whole files to its workers in collection
order; a slow file collected last ran alone at the end (the suite's last minute was one file).
Started first, the short files fill in behind them (longest-first scheduling)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))
