"""The ops API inside the orchestrator process, `trellis keys`, and the dev admin key."""

from __future__ import annotations

import asyncio
import gc
import socket
import uuid
from pathlib import Path

import httpx
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from console.cli import app
from console.dev_keys import ensure_dev_admin_key
from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.tables import contacts
from services.orchestrator.main import run
from services.orchestrator.ops.auth import key_for
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually, produce
from trellis.broker import free_port
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings


def _own(settings: TrellisSettings, port: int) -> OrchestratorSettings:
    return OrchestratorSettings(
        **settings.model_dump(), orchestrator_group=f"orc-{uuid.uuid4().hex}", ops_port=port
    )


async def _healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def test_the_orchestrator_serves_the_ops_api_and_stops_it_with_the_consumer(
    settings: TrellisSettings,
) -> None:
    own = _own(settings, free_port())
    await ensure_topics(own)
    stop = asyncio.Event()
    task = asyncio.create_task(run(own, stop))
    url = f"http://127.0.0.1:{own.ops_port}/healthz"
    try:
        assert await eventually(lambda: _healthy(url), bool, deadline_s=60)
        assert not gc.isenabled()  # collected at safe points, never inside a batch
        async with httpx.AsyncClient() as http:
            assert (await http.get(url.replace("healthz", "v1/contacts"))).status_code == 401
            # the dashboard is served by the same process: without a key, its login page
            login = await http.get(url.replace("healthz", "ui/"), follow_redirects=True)
            assert login.status_code in (200, 401) and "<form" in login.text
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert not await _healthy(url)
    assert gc.isenabled()  # handed back at shutdown


async def test_a_busy_ops_port_is_logged_and_the_orchestrator_keeps_consuming(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        own = _own(settings, taken.getsockname()[1])
        await ensure_topics(own)
        stop = asyncio.Event()
        task = asyncio.create_task(run(own, stop))
        tag = uuid.uuid4().hex[:8]
        event = orjson.dumps({
            "id": f"{tag}-1", "type": "page_viewed", "source": "test",
            "time": "2026-11-18T12:00:00Z", "contact": {"email": f"ana@{tag}.example"},
            "properties": {"path": "/blog"},
        })  # fmt: skip
        try:
            await produce(own.bootstrap_servers, ENGAGEMENT, [(tag.encode(), event)])

            async def stored() -> int:
                async with engine.connect() as conn:
                    found = select(contacts.c.id).where(contacts.c.email == f"ana@{tag}.example")
                    return len((await conn.execute(found)).all())

            assert await eventually(stored, lambda n: n == 1, deadline_s=60) == 1
            assert not task.done()
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


def test_trellis_keys_add_list_revoke(tmp_path: Path) -> None:
    env = {"TRELLIS_DATABASE_URL": f"sqlite:///{tmp_path / 'keys.db'}", "TRELLIS_ENV": "test"}
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    added = runner.invoke(
        app, ["keys", "add", "--scope", "rep", "--rep", "ana@x.example", "--name", "ana"], env=env
    )
    assert added.exit_code == 0, added.output
    secret = added.output.split("API key (shown once): ")[1].split()[0]
    assert secret.startswith("tok_")
    no_rep = runner.invoke(app, ["keys", "add", "--scope", "rep"], env=env)
    assert no_rep.exit_code == 2 and "--rep" in no_rep.output
    listed = runner.invoke(app, ["keys", "list"], env=env).output
    assert "ana\trep\tana@x.example\tactive" in listed and secret not in listed
    assert runner.invoke(app, ["keys", "revoke", "ana"], env=env).output.strip() == "revoked 1 key"
    assert "revoked" in runner.invoke(app, ["keys", "list"], env=env).output
    assert runner.invoke(app, ["keys", "revoke", "ana"], env=env).exit_code == 1


async def test_trellis_dev_keeps_one_admin_key_in_a_file_and_replaces_it_when_lost(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = TrellisSettings(env="test", database_url=database_url, data_dir=tmp_path)
    key_file = await ensure_dev_admin_key(settings)
    assert key_file == tmp_path / "dev-admin-key"
    first = key_file.read_text().strip()
    assert key_file.stat().st_mode & 0o777 == 0o600
    await ensure_dev_admin_key(settings)
    assert key_file.read_text().strip() == first
    key_file.unlink()
    await ensure_dev_admin_key(settings)
    second = key_file.read_text().strip()
    async with engine.connect() as conn:
        assert await key_for(conn, first) is None  # the lost one is revoked
        found = await key_for(conn, second)
    assert found is not None and found.scope == "admin"
