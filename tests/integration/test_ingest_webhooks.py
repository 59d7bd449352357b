"""Standard Webhooks signed sources: valid, replayed, malformed, rotated, disabled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from schemas.topics import ENGAGEMENT
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import (
    add_source,
    disable_source,
    running_ingest,
    sample_event,
)
from tests.probes import read_topic
from trellis.db import create_engine
from trellis.settings import TrellisSettings
from trellis.sources import Auth, SourceKind, SqlAlchemySourceRepository


def _signed(secret: str, body: bytes, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(UTC)
    msg_id = f"msg_{uuid.uuid4().hex}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})


async def test_signed_webhook_is_accepted_and_a_replayed_or_forged_one_refused(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    hook = await add_source(ingest, "marketo", SourceKind.SERVER, auth=Auth.WEBHOOK)
    secret, path = hook.credential, f"/v1/webhooks/{hook.source.id}"
    event = sample_event("form_submitted", properties={"form_id": "f-1"})
    body = orjson.dumps(event)
    stale = datetime.now(UTC) - timedelta(minutes=6)
    future = datetime.now(UTC) + timedelta(minutes=6)
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        headers = _signed(secret, body)
        ok = await http.post(path, content=body, headers=headers)
        replayed = await http.post(path, content=body, headers=headers)
        old = await http.post(path, content=body, headers=_signed(secret, body, stale))
        new = await http.post(path, content=body, headers=_signed(secret, body, future))
        forged = await http.post(path, content=body + b" ", headers=_signed(secret, body))
        malformed = await http.post(
            path, content=body, headers={**_signed(secret, body), "webhook-signature": "garbage"}
        )
        unsigned = await http.post(path, content=body)
        unknown = await http.post(
            "/v1/webhooks/src_nope", content=body, headers=_signed(secret, body)
        )
    assert ok.status_code == 202, ok.text
    assert (replayed.status_code, replayed.json()["accepted"]) == (202, 0)  # not published again
    assert [r.status_code for r in (old, new, forged, malformed, unsigned, unknown)] == [401] * 6
    records = await read_topic(
        settings.kafka_bootstrap,
        ENGAGEMENT,
        lambda rs: any(event["id"].encode() in r.value for r in rs),
    )
    assert sum(orjson.loads(r.value)["id"] == event["id"] for r in records) == 1


async def test_rotation_keeps_the_previous_secret_valid_and_disabling_refuses_403(
    settings: TrellisSettings,
) -> None:
    ingest = _ingest(settings)
    hook = await add_source(ingest, "hubspot", SourceKind.SERVER, auth=Auth.WEBHOOK)
    engine = create_engine(ingest.resolved_database_url)
    try:
        repo = SqlAlchemySourceRepository(engine)
        rotated = await repo.rotate("hubspot", datetime.now(UTC))
        dropped = await repo.rotate("hubspot", datetime.now(UTC), keep_previous=False)
    finally:
        await engine.dispose()
    path = f"/v1/webhooks/{hook.source.id}"
    body = orjson.dumps(sample_event())
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        newest = await http.post(path, content=body, headers=_signed(dropped.credential, body))
        first = await http.post(path, content=body, headers=_signed(hook.credential, body))
        second = await http.post(path, content=body, headers=_signed(rotated.credential, body))
        await disable_source(ingest, "hubspot")
        disabled = await http.post(path, content=body, headers=_signed(dropped.credential, body))
    assert newest.status_code == 202
    assert (first.status_code, second.status_code) == (401, 401)
    assert disabled.status_code == 403
    assert len(rotated.source.secrets) == 2


async def test_signed_but_invalid_body_is_400_or_422(settings: TrellisSettings) -> None:
    ingest = _ingest(settings)
    hook = await add_source(ingest, "crm", SourceKind.SERVER, auth=Auth.WEBHOOK)
    path = f"/v1/webhooks/{hook.source.id}"
    not_json = b"{nope"
    bad_event = orjson.dumps({"events": [sample_event(), {"id": "x"}]})
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        r400 = await http.post(path, content=not_json, headers=_signed(hook.credential, not_json))
        r422 = await http.post(path, content=bad_event, headers=_signed(hook.credential, bad_event))
    assert r400.status_code == 400
    assert r422.status_code == 422
    assert any(e["loc"][:3] == ["body", "events", 1] for e in r422.json()["detail"])
