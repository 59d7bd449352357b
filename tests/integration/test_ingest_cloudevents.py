"""CloudEvents 1.0 over HTTP, built by the real ``cloudevents`` SDK, in all three modes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, arrived, basic, running_ingest
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind

DATA = {
    "contact": {"email": "ada@example.com"},
    "account": {"domain": "example.com"},
    "properties": {"score": 9},
}


def _event(ce_type: str = "com.acme.nps_submitted", data: dict[str, Any] = DATA) -> CloudEvent:
    return CloudEvent(
        {
            "id": f"ce-{uuid.uuid4()}",
            "source": "/survey-tool",
            "type": ce_type,
            "specversion": "1.0",
            "datacontenttype": "application/json",
        },
        data,
    )


async def test_binary_structured_and_batched_events_arrive(settings: TrellisSettings) -> None:
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})
    key = (await add_source(ingest, "survey", SourceKind.SDK)).credential
    binary, structured, first, second = (_event() for _ in range(4))
    batch_body = orjson.dumps([orjson.loads(to_structured_event(e).body) for e in (first, second)])
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        responses = []
        for message in (to_binary_event(binary), to_structured_event(structured)):
            headers = {**message.headers, **basic(key)}
            responses.append(
                await http.post("/v1/cloudevents", content=message.body, headers=headers)
            )
        batch_headers = {"content-type": "application/cloudevents-batch+json", **basic(key)}
        responses.append(
            await http.post("/v1/cloudevents", content=batch_body, headers=batch_headers)
        )
        bad = to_structured_event(
            _event(data={"contact": {"email": "x@y.io"}, "properties": {"score": 12}})
        )
        invalid = await http.post(
            "/v1/cloudevents", content=bad.body, headers={**bad.headers, **basic(key)}
        )
    assert [r.status_code for r in responses] == [202, 202, 202], [r.text for r in responses]
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "properties", "score"]
    ids = [e.get_id() for e in (binary, structured, first, second)]
    got = await arrived(settings.kafka_bootstrap, ids)
    for event_id in ids:
        assert got[event_id]["type"] == "nps_submitted"
        assert got[event_id]["source"] == "/survey-tool"
        assert got[event_id]["_key"] == "a:example.com"
