"""An online upgrade, run for real: the previous release (the code before the newest migration,
taken from git) migrates a PostgreSQL database and consumes events; the new migrations run while
it keeps consuming (expand); then the new code takes over the same group and database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import orjson
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.tables import contacts, inbox
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually, produce
from trellis.broker import EmbeddedBroker
from trellis.db import create_engine
from trellis.kafka import ensure_topics
from trellis.migrate import alembic_config, upgrade_async

ROOT = Path(__file__).resolve().parents[2]
TREES = ["trellis", "console", "services", "schemas", "migrations"]  # console/ since issue 14


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tree as it was before the commit that added the newest migration."""
    try:
        newest = (
            _git(  # added, not edited: a later fix to a revision's docstring is no release
                "log", "-n1", "--diff-filter=A", "--format=%H", "--", "migrations/versions"
            )
            .decode()
            .strip()
        )
        trees = [t for t in TREES if _git("ls-tree", "--name-only", f"{newest}^", t).strip()]
        archive = _git("archive", "--format=tar", f"{newest}^", *trees)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"the previous release needs the git history: {exc}")
    target = tmp_path_factory.mktemp("previous")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    yield target


def _events(tag: str, first: int, count: int) -> list[tuple[bytes | None, bytes]]:
    return [
        (f"acc-{tag}-{i % 3}".encode(), orjson.dumps({
            "id": f"{tag}-{i}", "type": "page_viewed", "source": "upgrade-test",
            "time": f"2026-11-18T12:{i:02d}:00Z",
            "contact": {"email": f"c{i}@{tag}.example"}, "account": {"domain": f"{tag}.example"},
            "properties": {"path": "/pricing"},
        }))
        for i in range(first, first + count)
    ]  # fmt: skip


async def _versions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def _applied(engine: AsyncEngine, tag: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(inbox).where(inbox.c.event_id.like(f"{tag}-%"))
        return int((await conn.execute(query)).scalar() or 0)


@pytest.mark.parametrize("blank_database_url", ["postgresql"], indirect=True)
async def test_the_old_release_keeps_working_while_the_new_schema_lands(
    previous_release: Path, isolated_broker: EmbeddedBroker, blank_database_url: str
) -> None:
    url, tag = blank_database_url, uuid.uuid4().hex[:8]
    group = f"orc-upgrade-{tag}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
        "PYTHONPATH": str(previous_release), "TRELLIS_ENV": "test",
        "TRELLIS_KAFKA_BOOTSTRAP": isolated_broker.bootstrap, "TRELLIS_KAFKA_IDEMPOTENCE": "false",
        "TRELLIS_DATABASE_URL": url, "TRELLIS_OPS_SERVE": "false",
        "TRELLIS_ORCHESTRATOR_GROUP": group, "TRELLIS_TOPIC_PARTITIONS": "2",
    }  # fmt: skip
    cli = "console.cli" if (previous_release / "console").is_dir() else "trellis.cli"
    old = [sys.executable, "-m", cli]
    migrated = await asyncio.create_subprocess_exec(
        *old, "migrate", cwd=previous_release, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(migrated.communicate(), 120)
    assert migrated.returncode == 0, err.decode()
    settings = OrchestratorSettings(
        env="test", kafka_bootstrap=isolated_broker.bootstrap, kafka_idempotence=False,
        database_url=url, ops_serve=False, orchestrator_group=group, topic_partitions=2,
    )  # fmt: skip
    await ensure_topics(settings)
    engine = create_engine(url)
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    assert await _versions(engine) != heads, "the previous release already had every migration"
    process = await asyncio.create_subprocess_exec(
        *old, "orchestrator", cwd=previous_release, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await produce(isolated_broker.bootstrap, ENGAGEMENT, _events(tag, 0, 10))
        assert await eventually(lambda: _applied(engine, tag), lambda n: n == 10, 90) == 10
        await upgrade_async(url)  # the new release's migrations, the old code still consuming
        assert await _versions(engine) == heads
        await produce(isolated_broker.bootstrap, ENGAGEMENT, _events(tag, 10, 10))
        assert await eventually(lambda: _applied(engine, tag), lambda n: n == 20, 90) == 20
        assert process.returncode is None, "the old release died on the new schema"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))  # the new release, same group and database
    try:
        await produce(isolated_broker.bootstrap, ENGAGEMENT, _events(tag, 20, 10))
        assert await eventually(lambda: _applied(engine, tag), lambda n: n == 30, 90) == 30
        async with engine.connect() as conn:
            known = select(func.count()).select_from(contacts)
            assert (
                await conn.execute(known.where(contacts.c.email.like(f"%@{tag}.example")))
            ).scalar() == 30
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await engine.dispose()
