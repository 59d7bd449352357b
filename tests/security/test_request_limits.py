"""Every ingest endpoint refuses an oversized body with 413 before holding it in memory, with
or without a declared length, authenticated or public (unsubscribe and SMS callbacks are public
or signature-checked: the cap must hold before any of that work).

Finer limits are tested elsewhere: events per request, gzip bombs and truncated gzip, the
per-source rate limit (tests/integration/test_ingest_limits.py); Segment's 32 KB per event and
500 KB per batch (tests/integration/test_ingest_segment.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.integration.ingest_server import add_source, basic, running_ingest
from trellis.settings import TrellisSettings
from trellis.sources import Auth, SourceKind

LIMIT = 64 * 1024


def _post_paths() -> list[str]:
    spec = create_app(IngestSettings()).openapi()
    return sorted(path for path, ops in spec["paths"].items() if "post" in ops)


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(
        **{**settings.model_dump(), "kafka_idempotence": False, "ingest_max_body_bytes": LIMIT}
    )


async def _chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        yield b"a" * 8192
        sent += 8192


@pytest.mark.parametrize("path", _post_paths())
async def test_an_oversized_body_is_refused_with_413_on_every_post_route(
    settings: TrellisSettings, path: str
) -> None:
    ingest = _ingest(settings)
    sdk = await add_source(ingest, f"lim-{uuid.uuid4().hex[:6]}", SourceKind.SDK)
    hook = await add_source(
        ingest, f"lim-{uuid.uuid4().hex[:6]}", SourceKind.SERVER, auth=Auth.WEBHOOK
    )
    url_path = path.replace("{source_id}", hook.source.id)
    if path.startswith("/v1/email/status"):  # delivery callbacks: a provider's credential
        sdk = await add_source(ingest, f"lim-{uuid.uuid4().hex[:6]}", SourceKind.PROVIDER)
    headers = {**basic(sdk.credential), "content-type": "application/x-www-form-urlencoded"}
    big = b"x=" + b"a" * (LIMIT + 1)
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        declared = await http.post(url_path, content=big, headers=headers)
        streamed = await http.post(url_path, content=_chunks(4 * LIMIT), headers=headers)
    assert declared.status_code == 413, (path, declared.status_code, declared.text[:200])
    assert streamed.status_code == 413, (path, streamed.status_code, streamed.text[:200])
