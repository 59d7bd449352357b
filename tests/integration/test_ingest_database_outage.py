"""A database outage while a request needs it (credentials not cached) is a 503 with
Retry-After — nothing accepted, the sender retries — never a 500; once it is back, the same
request is accepted. The outage is a cut TCP proxy in front of PostgreSQL (chaos/proxy.py)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.engine import make_url

from chaos.proxy import TcpProxy
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, basic, running_ingest, sample_event
from trellis.broker import EmbeddedBroker, free_port
from trellis.sources import SourceKind


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a file cannot be cut
async def test_a_cold_credential_during_a_database_outage_gets_503_then_202(
    broker: EmbeddedBroker, database_url: str
) -> None:
    url = make_url(database_url)
    proxy = TcpProxy(free_port(), url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.listen_port)
    ingest = IngestSettings(
        kafka_bootstrap=broker.bootstrap, kafka_idempotence=False,
        database_url=through.render_as_string(hide_password=False), ingest_source_cache_s=0,
    )  # fmt: skip
    key = (await add_source(ingest, f"crm-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    event = sample_event(id=f"evt-{uuid.uuid4().hex}")
    try:
        async with (
            running_ingest(ingest) as base,
            httpx.AsyncClient(base_url=base, timeout=30) as http,
        ):
            await proxy.cut()
            down = await http.post("/v1/events", json=event, headers=basic(key))
            await proxy.restore()
            up = await http.post("/v1/events", json=event, headers=basic(key))
    finally:
        await proxy.close()
    assert down.status_code == 503, down.text
    assert int(down.headers["Retry-After"]) > 0
    assert "retry" in down.json()["detail"]
    assert up.status_code == 202, up.text
    assert set(await arrived(broker.bootstrap, [event["id"]])) == {event["id"]}
