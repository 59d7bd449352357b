"""Operability of a real ingest server: request ids, Prometheus metrics, JSON access logs and
``trellis send``."""

from __future__ import annotations

import asyncio
import logging

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, basic, running_ingest, sample_event
from trellis.logs import JsonFormatter
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})


async def test_request_ids_metrics_and_json_access_logs(
    settings: TrellisSettings, caplog: pytest.LogCaptureFixture
) -> None:
    ingest = _ingest(settings)
    sdk = await add_source(ingest, "web", SourceKind.SDK)
    caplog.set_level(logging.INFO, logger="trellis.ingest.access")
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        given = await http.post(
            "/v1/events",
            json=sample_event(),
            headers={**basic(sdk.credential), "X-Request-ID": "req-abc.123"},
        )
        fresh = await http.post("/v1/events", json=sample_event(), headers=basic(sdk.credential))
        hostile = await http.post(
            "/v1/events", json=sample_event(), headers={"X-Request-ID": "a b\tc" * 50}
        )
        await http.post("/v1/events", content=b"{nope", headers=basic(sdk.credential))
        metrics = await http.get("/metrics")
    assert given.status_code == 202 and given.headers["x-request-id"] == "req-abc.123"
    assert len(fresh.headers["x-request-id"]) == 32
    assert hostile.status_code == 401 and len(hostile.headers["x-request-id"]) == 32
    text = metrics.text
    assert (
        'trellis_ingest_requests_total{method="POST",route="/v1/events",status="202"} 2.0' in text
    )
    assert 'trellis_ingest_events_accepted_total{kind="engagement"} 2.0' in text
    assert 'trellis_ingest_requests_rejected_total{reason="unauthorized"} 1.0' in text
    assert 'trellis_ingest_requests_rejected_total{reason="malformed"} 1.0' in text
    assert "trellis_ingest_produce_seconds_count 2.0" in text
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == "req-abc.123"]
    line = orjson.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-abc.123" and "/v1/events 202" in line["msg"]


async def test_trellis_send_posts_one_event_and_prints_the_response(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    sdk = await add_source(ingest, "cli", SourceKind.SDK)
    runner = CliRunner()
    args = ["send", "--type", "page_viewed", "--email", "a@b.com", "--property", "path=/pricing"]
    async with running_ingest(ingest) as url:
        ok = await asyncio.to_thread(
            runner.invoke, app, [*args, "--url", url, "--write-key", sdk.credential]
        )
        wrong = await asyncio.to_thread(
            runner.invoke, app, [*args, "--url", url, "--write-key", "nope"]
        )
    assert ok.exit_code == 0, ok.output
    status, _, body = ok.output.strip().partition(" ")
    assert status == "202"
    (event_id,) = orjson.loads(body)["ids"]
    event = (await arrived(settings.kafka_bootstrap, [event_id]))[event_id]
    assert event["type"] == "page_viewed" and event["contact"]["email"] == "a@b.com"
    assert event["properties"]["path"] == "/pricing"
    assert wrong.exit_code == 1 and wrong.output.startswith("401")
