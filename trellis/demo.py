"""``trellis demo``: stream a synthetic B2B world into a running stack through ingest's API.

The world's timeline is shifted to end now, so recent activity looks recent; events go in
batches to ``POST /v1/events``, each with the key of a dev source whose kind may send it (the
website's sdk key, the CRM's, the consent tool's, the backend's), exactly as those producers would
send them, and a refused batch (503/429) is retried after its ``Retry-After`` — nothing is
skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from schemas.vocabulary import SourceKind
from trellis.demo_world import HeldOut, build_world
from trellis.producers import route

BATCH = 100


def shifted_world(
    accounts: int, seed: int, span_days: int, now: datetime, held_out: HeldOut | None = None
) -> list[dict[str, Any]]:
    """The world, its timeline compressed into the ``span_days`` before ``now``."""
    start = now - timedelta(days=span_days)
    world = build_world(accounts, seed, start, held_out)
    if not world:
        return world
    first = datetime.fromisoformat(world[0]["time"])
    last = datetime.fromisoformat(world[-1]["time"])
    scale = (now - start - timedelta(minutes=5)) / max(last - first, timedelta(seconds=1))
    for event in world:
        at = datetime.fromisoformat(event["time"])
        event["time"] = (start + (at - first) * scale).isoformat()
    return world


async def stream(
    url: str,
    keys: Mapping[SourceKind, str],
    events: list[dict[str, Any]],
    rate_per_s: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """POST every event with a key allowed to send it; returns how many were accepted."""
    accepted = 0
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for key, batch in route(events, keys, BATCH):
            while True:
                reply = await http.post("/v1/events", json={"events": batch}, auth=(key, ""))
                if reply.status_code in (429, 503):
                    await asyncio.sleep(float(reply.headers.get("retry-after", "1")))
                    continue
                if reply.status_code >= 400:
                    raise DemoRefused(f"{reply.status_code} from {url}: {reply.text[:500]}")
                break
            accepted += len(batch)
            if progress is not None:
                progress(len(batch))
            if rate_per_s:
                ahead = accepted / rate_per_s - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
    return accepted


class DemoRefused(RuntimeError):
    """Ingest refused the demo's events for a reason retrying will not fix."""


def now_utc() -> datetime:
    return datetime.now(UTC)
