"""Property: whatever JSON arrives at ``/v1/events`` or ``/v1/batch``, the answer is never 5xx
(a real server and broker; hypothesis drives a sync client from a worker thread). Bodies are
encoded with the stdlib so integers beyond 64 bits reach the server too."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, basic, running_ingest, sample_event
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["id", "type", "source", "time", "contact", "account", "properties", "events"]
SEGMENT = [
    "type",
    "userId",
    "anonymousId",
    "groupId",
    "event",
    "traits",
    "properties",
    "context",
    "messageId",
    "timestamp",
    "writeKey",
]


def _mutated(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=4).map(
        lambda patch: {**base, **patch}
    )


event_bodies = (
    json_values
    | _mutated(sample_event(), FIELDS)
    | st.lists(_mutated(sample_event(), FIELDS), max_size=3).map(lambda events: {"events": events})
)
segment_item = _mutated(
    {"type": "track", "event": "Page Viewed", "userId": "u-1", "properties": {}}, SEGMENT
)
batch_bodies = json_values | st.lists(segment_item, max_size=3).map(lambda b: {"batch": b})


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})


async def test_random_json_bodies_never_get_a_5xx(settings: TrellisSettings) -> None:
    ingest = _ingest(settings)
    sdk = await add_source(ingest, "fuzz", SourceKind.SDK)
    headers = {**basic(sdk.credential), "content-type": "application/json"}

    async with running_ingest(ingest) as url:

        def check() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=30) as http:

                @hsettings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
                @given(body=event_bodies, raw=st.booleans(), junk=st.binary(max_size=40))
                def events(body: Any, raw: bool, junk: bytes) -> None:
                    content = junk if raw else json.dumps(body).encode()
                    response = http.post("/v1/events", content=content)
                    assert response.status_code < 500, (body, response.text)

                @hsettings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
                @given(body=batch_bodies)
                def batch(body: Any) -> None:
                    response = http.post("/v1/batch", content=json.dumps(body).encode())
                    assert response.status_code < 500, (body, response.text)

                events()
                batch()

        await asyncio.to_thread(check)
