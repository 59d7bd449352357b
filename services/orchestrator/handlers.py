"""The engagement consumer's adapter: decode a batch of records, then ``handle_engagement``
(``application.engagement``) in one SQL unit of work; offsets are committed by the loop after
the transaction. A redelivered or replayed event is not fresh in the inbox and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.historical import is_historical
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.state_cache import StateCaches
from services.orchestrator.application.engagement import Received, handle_engagement
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.people import Nurture
from trellis.consumer import Record, Rejected

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Decoded = list[tuple[Record, EngagementEvent]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def decode_engagement(records: Sequence[Record]) -> tuple[Decoded, list[Rejected]]:
    """Split records into valid events and schema-invalid poison (never retried)."""
    good: Decoded = []
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
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )


async def apply_engagement(
    records: Sequence[Record],
    engine: AsyncEngine,
    playbook: Playbook,
    clock: Clock = utc_now,
    caches: StateCaches | None = None,
    nurture: Nurture | None = None,
) -> list[Rejected]:
    """Decode, then ``handle_engagement`` in one SQL unit of work; returns the poison."""
    good, rejected = decode_engagement(records)
    caches = caches or StateCaches()  # the process passes one long-lived cache
    past: list[Received] = []
    live: list[Received] = []
    for r, e in good:  # one look at each record's headers
        (past if r.headers and is_historical(r.headers) else live).append(
            (InboxEntry(e.id, r.topic, r.partition, r.offset), e)
        )
    async with SqlUnitOfWork.begin(engine, caches) as uow:
        now = clock()
        fresh = []  # imported history first: the live part of a mixed batch is newer
        if past:
            fresh += await handle_engagement(uow, past, playbook, now, None, historical=True)
        if live:
            fresh += await handle_engagement(uow, live, playbook, now, nurture)
    if len(fresh) < len(good):
        log.debug("skipped %d redelivered engagement events", len(good) - len(fresh))
    return rejected
