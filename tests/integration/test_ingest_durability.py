"""A broker that stops answering: the sender gets 503, retries, and nothing acknowledged is lost.

The broker is frozen with SIGSTOP rather than killed: the embedded broker is memory-only, so a
restart would lose what it held for reasons that have nothing to do with ingest (and with cached
client metadata it even acknowledges writes to partitions it no longer has; see README).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import httpx

from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, basic, running_ingest, sample_event
from trellis.broker import EmbeddedBroker, listener_owned_by
from trellis.kafka import ensure_topics
from trellis.sources import SourceKind


async def test_a_frozen_broker_gets_503s_and_every_retried_event_arrives_once_it_thaws(
    isolated_broker: EmbeddedBroker, database_url: str
) -> None:
    ingest = IngestSettings(
        kafka_bootstrap=isolated_broker.bootstrap,
        kafka_idempotence=False,
        database_url=database_url,
        ingest_publish_timeout_s=2,
        kafka_request_timeout_ms=2000,
    )
    await ensure_topics(ingest, partitions=3)
    key = (await add_source(ingest, f"crm-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    before = sample_event()
    during = [sample_event(id=f"evt-{uuid.uuid4().hex}") for _ in range(5)]
    pid = isolated_broker.pid
    assert pid is not None
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        assert (await http.post("/v1/events", json=before, headers=basic(key))).status_code == 202
        # Seen once under parallel CI load: 202s while "frozen". Say who held the port then.
        owner = listener_owned_by(pid, isolated_broker.port)
        os.kill(pid, signal.SIGSTOP)
        took: list[float] = []
        try:
            refused = []
            for event in during:
                started = time.monotonic()
                refused.append(await http.post("/v1/events", json=event, headers=basic(key)))
                took.append(round(time.monotonic() - started, 2))
        finally:
            state = _process_state(pid)
            os.kill(pid, signal.SIGCONT)
        assert [r.status_code for r in refused] == [503] * len(during), (
            f"broker pid {pid} owned the port: {owner}; state while frozen: {state}; "
            f"seconds per request: {took}"
        )
        assert all(r.headers["retry-after"] for r in refused)
        # the sender retries each refused event (same id) until it is accepted
        for event in during:
            for _ in range(20):
                reply = await http.post("/v1/events", json=event, headers=basic(key))
                if reply.status_code == 202:
                    break
                await asyncio.sleep(0.5)
            assert reply.status_code == 202, reply.text
    got = await arrived(ingest.bootstrap_servers, [before["id"], *(e["id"] for e in during)])
    assert set(got) == {before["id"], *(e["id"] for e in during)}


def _process_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]  # T: stopped
    except OSError as exc:
        return f"unreadable ({exc})"
