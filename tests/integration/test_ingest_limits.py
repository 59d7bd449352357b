"""Limits and bad input: 413 size and batch caps, 400 malformed JSON/gzip, 429 rate limit."""

from __future__ import annotations

import gzip

import httpx
import orjson

from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, basic, running_ingest, sample_event
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind


async def test_oversized_bodies_batches_and_bad_encodings_are_refused_precisely(
    settings: TrellisSettings,
) -> None:
    ingest = IngestSettings(
        **{**settings.model_dump(), "kafka_idempotence": False},
        ingest_max_body_bytes=4096,
        ingest_max_batch=2,
    )
    auth = basic((await add_source(ingest, "crm", SourceKind.SDK)).credential)
    big = sample_event(properties={"notes": "x" * 5000})
    bomb = gzip.compress(orjson.dumps(big | {"properties": {"notes": "x" * 1_000_000}}))
    three = {"events": [sample_event() for _ in range(3)]}
    gz = {"content-encoding": "gzip", **auth}
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        too_big = await http.post("/v1/events", json=big, headers=auth)
        bombed = await http.post("/v1/events", content=bomb, headers=gz)
        too_many = await http.post("/v1/events", json=three, headers=auth)
        not_json = await http.post("/v1/events", content=b'{"id": ', headers=auth)
        not_gzip = await http.post("/v1/events", content=b"plain", headers=gz)
        cut_gzip = await http.post(
            "/v1/events", content=gzip.compress(orjson.dumps(sample_event()))[:-12], headers=gz
        )
        segment_big = await http.post("/v1/batch", content=b"[]", headers=auth)
    assert [r.status_code for r in (too_big, bombed, too_many)] == [413, 413, 413]
    assert [r.status_code for r in (not_json, not_gzip, cut_gzip)] == [400, 400, 400]
    assert segment_big.status_code == 400


async def test_a_source_over_its_rate_limit_gets_429_with_retry_after(
    settings: TrellisSettings,
) -> None:
    ingest = IngestSettings(**{**settings.model_dump(), "kafka_idempotence": False})
    limited = basic(
        (await add_source(ingest, "noisy", SourceKind.SDK, rate_limit_per_s=2)).credential
    )
    other = basic((await add_source(ingest, "calm", SourceKind.SDK)).credential)
    bad = sample_event("not_a_type")  # rejected after the limit check: nothing is published
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        codes = [(await http.post("/v1/events", json=bad, headers=limited)) for _ in range(3)]
        unaffected = await http.post("/v1/events", json=bad, headers=other)
    assert [r.status_code for r in codes] == [422, 422, 429]
    assert int(codes[2].headers["retry-after"]) >= 1
    assert unaffected.status_code == 422
