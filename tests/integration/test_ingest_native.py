"""The native event API and its authentication, against a real server, broker and database."""

from __future__ import annotations

import uuid

import httpx
import pytest

from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import (
    add_source,
    arrived,
    basic,
    disable_source,
    running_ingest,
    sample_event,
)
from trellis.broker import EmbeddedBroker
from trellis.settings import TrellisSettings
from trellis.sources import Auth, SourceKind


def _ingest(settings: TrellisSettings, **overrides: object) -> IngestSettings:
    return IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False, **overrides})


async def test_accepted_event_arrives_keyed_by_account_with_normalised_properties(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    key = (await add_source(ingest, "crm", SourceKind.SDK)).credential
    event = sample_event("page_viewed", properties={"url": "https://x.io/pricing", "utm": "a"})
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/v1/events", json=event, headers=basic(key))
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 1, "ids": [event["id"]]}
    got = (await arrived(settings.kafka_bootstrap, [event["id"]]))[event["id"]]
    assert got["_key"] == "a:acc-1"
    assert got["properties"] == {"url": "https://x.io/pricing", "utm": "a", "is_pricing": True}
    assert got["received_at"] is not None


async def test_one_bad_event_rejects_the_whole_batch_with_its_index(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    key = (await add_source(ingest, "crm", SourceKind.SDK)).credential
    good = sample_event("demo_requested")
    bad = sample_event("nps_submitted", properties={"score": 11})
    later = sample_event("demo_requested")
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        rejected = await http.post("/v1/events", json={"events": [good, bad]}, headers=basic(key))
        accepted = await http.post("/v1/events", json=later, headers=basic(key))
    assert rejected.status_code == 422
    [error] = rejected.json()["detail"]
    assert error["loc"] == ["body", "events", 1, "properties", "score"]
    assert accepted.status_code == 202
    # Same account, same partition: once ``later`` is there, ``good`` would be before it.
    seen = await arrived(settings.kafka_bootstrap, [later["id"], good["id"]], until=[later["id"]])
    assert good["id"] not in seen


async def test_unknown_type_is_refused_with_the_known_types_unless_declared(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings, ingest_custom_event_types=["trial_extended"])
    key = (await add_source(ingest, "crm", SourceKind.SDK)).credential
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        unknown = await http.post("/v1/events", json=sample_event("x_y"), headers=basic(key))
        custom = sample_event("trial_extended", properties={"days": 7})
        declared = await http.post("/v1/events", json=custom, headers=basic(key))
    assert unknown.status_code == 422
    body = unknown.json()
    assert body["detail"][0]["loc"] == ["body", "type"]
    assert "nps_submitted" in body["known_types"] and "trial_extended" in body["known_types"]
    assert declared.status_code == 202, declared.text


async def test_wrong_or_missing_write_key_is_401_and_a_disabled_source_403(
    settings: TrellisSettings, caplog: pytest.LogCaptureFixture
) -> None:
    ingest = _ingest(settings)
    issued = await add_source(ingest, "crm", SourceKind.SDK)
    webhook = await add_source(ingest, "hook", SourceKind.SERVER, auth=Auth.WEBHOOK)
    event = sample_event()
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        missing = await http.post("/v1/events", json=event)
        wrong = await http.post("/v1/events", json=event, headers=basic("wk_nope"))
        garbage = await http.post("/v1/events", json=event, headers={"Authorization": "Basic %%"})
        not_sdk = await http.post("/v1/events", json=event, headers=basic(webhook.credential))
        await disable_source(ingest, "crm")
        disabled = await http.post("/v1/events", json=event, headers=basic(issued.credential))
    assert [r.status_code for r in (missing, wrong, garbage, not_sdk)] == [401] * 4
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert disabled.status_code == 403
    assert issued.credential not in caplog.text


async def test_broker_down_answers_503_with_retry_after(
    isolated_broker: EmbeddedBroker, database_url: str
) -> None:
    ingest = IngestSettings(
        kafka_bootstrap=isolated_broker.bootstrap,
        kafka_idempotence=False,
        database_url=database_url,
        ingest_publish_timeout_s=2,
        kafka_request_timeout_ms=2000,
    )
    key = (await add_source(ingest, f"crm-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/v1/events", json=sample_event(), headers=basic(key))).is_success
        isolated_broker.stop()
        down = await http.post("/v1/events", json=sample_event(), headers=basic(key), timeout=30)
        ready = await http.get("/readyz")
    assert down.status_code == 503
    assert down.headers["retry-after"] == str(ingest.ingest_retry_after_s)
    assert ready.status_code == 503
