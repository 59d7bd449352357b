"""Orchestrator handlers: load -> decide -> save (one transaction) -> offsets committed by the loop.

At this stage the engagement handler validates each message and records it in the inbox exactly
once; the lifecycle issue adds state, scoring and decisions inside the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters.inbox import InboxEntry, claim
from trellis.consumer import Record, Rejected

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def decode_engagement(
    records: Sequence[Record],
) -> tuple[list[tuple[Record, EngagementEvent]], list[Rejected]]:
    """Split records into valid events and schema-invalid poison (never retried)."""
    good: list[tuple[Record, EngagementEvent]] = []
    bad: list[Rejected] = []
    for record in records:
        if record.value is None:
            bad.append(Rejected(record, "empty message value"))
            continue
        try:
            good.append((record, EngagementEvent.model_validate_json(record.value)))
        except ValidationError as exc:
            bad.append(Rejected(record, "schema: " + _short(exc)))
    return good, bad


def _short(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    ]
    return "; ".join(parts)


async def apply_engagement(
    records: Sequence[Record], engine: AsyncEngine, clock: Clock = utc_now
) -> list[Rejected]:
    good, rejected = decode_engagement(records)
    now = clock()
    async with engine.begin() as conn:
        fresh = await claim(
            conn,
            [InboxEntry(e.id, r.topic, r.partition, r.offset) for r, e in good],
            now,
        )
    if len(fresh) < len(good):
        log.info("skipped %d redelivered engagement events", len(good) - len(fresh))
    return rejected
