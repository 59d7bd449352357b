"""Readiness tells the truth: the database and the broker are cut at a TCP proxy (the servers
themselves are never touched) and each service's ``/readyz`` goes 503, naming what is gone, and
comes back to 200 once they are restored. ``/livez`` stays 200 throughout: restarting a process
does not bring a database back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.proxy import TcpProxy
from services.ingest.settings import IngestSettings
from services.notifier.main import run as run_notifier
from services.notifier.settings import NotifierSettings
from services.orchestrator.main import run as run_orchestrator
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.cuttable import Cuttable, cuttable_stack, readiness
from tests.integration.ingest_server import running_ingest
from tests.probes import eventually
from trellis.broker import free_port
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

Runner = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

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


def _consumer(service: str, cut: Cuttable) -> tuple[TrellisSettings, Runner, int]:
    """The service's settings on the cut stack, its ``run`` and the port of its /readyz."""
    port = free_port()
    common = TrellisSettings(
        env="test", kafka_bootstrap=cut.bootstrap, kafka_idempotence=False,
        database_url=cut.database_url, topic_partitions=2,
    ).model_dump()  # fmt: skip
    group = f"{service}-{uuid.uuid4().hex[:6]}"
    if service == "orchestrator":
        orchestrator = OrchestratorSettings(**common, ops_port=port, orchestrator_group=group)
        return orchestrator, lambda stop: run_orchestrator(orchestrator, stop), port
    notifier = NotifierSettings(**common, notifier_http_port=port, notifier_group=group)
    return notifier, lambda stop: run_notifier(notifier, stop), port


@POSTGRESQL
@pytest.mark.parametrize("service", ["orchestrator", "notifier"])
async def test_a_consumer_is_unready_without_database_broker_or_group(
    database_url: str, tmp_path: Path, service: str
) -> None:
    async with cuttable_stack(database_url, tmp_path) as cut:
        settings, run, port = _consumer(service, cut)
        await ensure_topics(settings)
        url = f"http://127.0.0.1:{port}/readyz"
        stop = asyncio.Event()
        task = asyncio.create_task(run(stop))
        try:
            status, body = await eventually(
                lambda: readiness(url), lambda r: r[0] in (200, 503), DEADLINE_S
            )
            if status == 503:  # served before the group assigned partitions: it says so
                assert set(body) <= {"status", "group", "consumer"}, body
            await eventually(lambda: readiness(url), lambda r: r[0] == 200, DEADLINE_S)
            down, alive = await _flips(url, cut.database, "database")
            assert "broker" not in down and alive == 200
            down, alive = await _flips(url, cut.broker, "broker")
            assert alive == 200
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
