"""Readiness tells the truth: the database and the broker are cut at a TCP proxy (the servers
themselves are never touched) and each service's ``/readyz`` goes 503, naming what is gone, and
comes back to 200 once they are restored. ``/livez`` stays 200 throughout: restarting a process
does not bring a database back."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from chaos.proxy import TcpProxy
from services.ingest.settings import IngestSettings
from services.orchestrator.main import run as run_orchestrator
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.cuttable import cuttable_stack, readiness
from tests.integration.ingest_server import running_ingest
from tests.probes import eventually
from trellis.broker import free_port
from trellis.kafka import ensure_topics

DEADLINE_S = 90  # a consumer group rejoins after a broker cut: Tansu waits out the session
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _flips(url: str, proxy: TcpProxy, dependency: str) -> tuple[dict[str, str], int]:
    """Cut ``proxy``: /readyz must be 503 naming ``dependency`` (and /livez still 200); restore
    it: /readyz must be 200 again. Returns the 503 body and the /livez status during the cut."""
    await proxy.cut()
    try:
        _, down = await eventually(
            lambda: readiness(url), lambda r: r[0] == 503 and dependency in r[1], DEADLINE_S
        )
        async with httpx.AsyncClient(timeout=10) as http:
            alive = (await http.get(url.replace("/readyz", "/livez"))).status_code
    finally:
        await proxy.restore()
    await eventually(lambda: readiness(url), lambda r: r[0] == 200, DEADLINE_S)
    return down, alive


@POSTGRESQL
async def test_ingest_is_unready_without_its_database_or_its_broker(
    database_url: str, tmp_path: Path
) -> None:
    async with cuttable_stack(database_url, tmp_path) as cut:
        settings = IngestSettings(
            kafka_bootstrap=cut.bootstrap, kafka_idempotence=False, database_url=cut.database_url
        )
        async with running_ingest(settings) as base:
            url = f"{base}/readyz"
            assert await readiness(url) == (200, {"status": "ready"})
            down, alive = await _flips(url, cut.database, "database")
            assert down["status"] == "unavailable" and "broker" not in down and alive == 200
            down, alive = await _flips(url, cut.broker, "broker")
            assert "database" not in down and alive == 200


@POSTGRESQL
async def test_the_orchestrator_is_unready_without_database_broker_or_group(
    database_url: str, tmp_path: Path
) -> None:
    async with cuttable_stack(database_url, tmp_path) as cut:
        settings = OrchestratorSettings(
            env="test", kafka_bootstrap=cut.bootstrap, kafka_idempotence=False,
            database_url=cut.database_url, ops_port=free_port(), topic_partitions=2,
            orchestrator_group=f"orc-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        await ensure_topics(settings)
        url = f"http://127.0.0.1:{settings.ops_port}/readyz"
        stop = asyncio.Event()
        task = asyncio.create_task(run_orchestrator(settings, stop))
        try:
            status, body = await eventually(
                lambda: readiness(url), lambda r: r[0] in (200, 503), DEADLINE_S
            )
            if status == 503:  # served before the group assigned partitions: it says so
                assert set(body) == {"status", "group"}, body
            await eventually(lambda: readiness(url), lambda r: r[0] == 200, DEADLINE_S)
            down, alive = await _flips(url, cut.database, "database")
            assert "broker" not in down and alive == 200
            down, alive = await _flips(url, cut.broker, "broker")
            assert alive == 200
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
