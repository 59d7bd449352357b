"""Segment compatibility: the real segment-analytics-python client, and raw HTTP senders."""

from __future__ import annotations

import asyncio
import gzip
import uuid

import httpx
import orjson
from segment.analytics import Client  # type: ignore[import-untyped]

from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, basic, running_ingest
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})


def _send_with_sdk(write_key: str, host: str, ids: list[str], user: str) -> list[Exception]:
    failures: list[Exception] = []
    client = Client(
        write_key, host=host, max_retries=0, gzip=True,
        on_error=lambda error, _batch: failures.append(error),
    )  # fmt: skip
    client.identify(user, {"email": "ada@example.com", "title": "CTO"}, message_id=ids[0])
    client.group(user, "acme-inc", {"name": "Acme", "employees": 300}, message_id=ids[1])
    client.track(user, "Demo Requested", {"notes": "asap"}, message_id=ids[2])
    client.page(user, name="Pricing", properties={"path": "/pricing"}, message_id=ids[3])
    client.flush()
    client.shutdown()
    return failures


async def test_segment_sdk_events_arrive_translated_on_the_topic(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    key = (await add_source(ingest, "website", SourceKind.SDK)).credential
    ids = [f"seg-{uuid.uuid4()}" for _ in range(4)]
    user = f"u-{uuid.uuid4().hex[:8]}"
    async with running_ingest(ingest) as url:
        failures = await asyncio.to_thread(_send_with_sdk, key, url, ids, user)
    assert failures == []
    got = await arrived(settings.kafka_bootstrap, ids)
    identify, group, track, page = (got[i] for i in ids)
    assert identify["type"] == "contact_identified"
    assert identify["contact"]["external_id"] == user
    assert identify["contact"]["email"] == "ada@example.com"
    assert group["type"] == "account_linked"
    assert group["account"] == {"external_id": "acme-inc", "domain": None,
                                "traits": {"name": "Acme", "employees": 300}}  # fmt: skip
    assert group["_key"] == "a:acme-inc"
    assert track["type"] == "demo_requested" and track["properties"] == {"notes": "asap"}
    assert page["type"] == "page_viewed" and page["properties"]["is_pricing"] is True
    assert track["source"] == "segment:website"


async def test_raw_senders_get_200_success_with_gzip_and_body_write_key(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    key = (await add_source(ingest, "rudder", SourceKind.SDK)).credential
    track_id, batch_id = f"m-{uuid.uuid4()}", f"m-{uuid.uuid4()}"
    track = {"userId": None, "anonymousId": "anon-1", "event": "Webinar Registered",
             "properties": {"webinar_id": "w-1"}, "messageId": track_id,
             "timestamp": "2026-01-05T10:00:00+01:00",
             "context": {"traits": {"email": "b@x.io"}}}  # fmt: skip
    batch = {"writeKey": key, "batch": [{**track, "type": "track", "messageId": batch_id}]}
    gz = gzip.compress(orjson.dumps(batch))
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        single = await http.post("/v1/track", json=track, headers=basic(key))
        zipped = await http.post(
            "/v1/batch", content=gz,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
        )  # fmt: skip
        unknown = await http.post("/v1/track", json={**track, "event": "Zzz"}, headers=basic(key))
        no_key = await http.post("/v1/track", json=track)
        huge = {**track, "properties": {"webinar_id": "w", "blob": "x" * 33_000}}
        too_big = await http.post("/v1/track", json=huge, headers=basic(key))
    assert (single.status_code, single.json()) == (200, {"success": True})
    assert (zipped.status_code, zipped.json()) == (200, {"success": True})
    assert unknown.status_code == 422
    assert no_key.status_code == 401
    assert too_big.status_code == 400
    got = await arrived(settings.kafka_bootstrap, [track_id, batch_id])
    assert got[track_id]["contact"] == {"external_id": None, "email": "b@x.io",
                                        "anonymous_id": "anon-1", "traits": {}}  # fmt: skip
    assert got[batch_id]["_key"] == "c:b@x.io"
