"""A producer that behaves like a real one: POSTs batches to ingest and retries the same batch on
503/429/5xx and on connection errors or timeouts until it gets a 2xx, keeping the ids (and the
wall time) of every event ingest acknowledged."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from schemas.vocabulary import SourceKind
from trellis.producers import route

RETRYABLE = (httpx.TransportError,)


class Refused(RuntimeError):
    """Ingest refused a batch for a reason retrying will not fix (4xx other than 429)."""


class IngestClient:
    """``keys``: one write key per source kind; each event goes with a key allowed to send it
    (the website's, the CRM's, the consent tool's), as in a real deployment."""

    def __init__(
        self, base_url: str, keys: Mapping[SourceKind, str], retry_cap_s: float = 1.0
    ) -> None:
        self.keys = dict(keys)
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(15.0, connect=2.0),
            limits=httpx.Limits(max_connections=32),
        )
        self.retry_cap_s = retry_cap_s
        self.acked: dict[str, float] = {}
        self.retries: Counter[str] = Counter()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, batch: Sequence[dict[str, Any]]) -> float:
        """POST until 2xx (one request per source kind in the batch); returns the wall time
        (``time.time()``) of the last acknowledgement."""
        at = 0.0
        for key, run in route(batch, self.keys, len(batch)):
            at = await self._send(key, run)
        return at

    async def _send(self, key: str, batch: Sequence[dict[str, Any]]) -> float:
        body = orjson.dumps({"events": list(batch)})
        headers = {"content-type": "application/json"}
        delay = 0.05
        while True:
            try:
                reply = await self.http.post(
                    "/v1/events", content=body, headers=headers, auth=(key, "")
                )
            except RETRYABLE as exc:
                self.retries[type(exc).__name__] += 1
            else:
                if reply.status_code < 300:
                    at = time.time()
                    for event in batch:
                        self.acked.setdefault(event["id"], at)
                    return at
                if reply.status_code not in (429,) and reply.status_code < 500:
                    raise Refused(f"{reply.status_code}: {reply.text[:500]}")
                self.retries[str(reply.status_code)] += 1
                after = reply.headers.get("retry-after")
                if after:
                    delay = float(after)
            await asyncio.sleep(min(delay, self.retry_cap_s))
            delay = min(delay * 2, self.retry_cap_s)
