"""Bounded growth: the ``prune-old-rows`` job deletes what no decision will read again.

- **inbox**: an event id only guards against a redelivery, and nothing is redelivered once the
  topic has dropped it: kept for the topic's retention plus a margin.
- **decisions**: the "why?" history, kept N days.
- **touches** that are finished (anything but ``planned``), kept N days after they were made;
  keep N above every frequency-cap window, which counts dispatched touches.
- contacts, accounts, stage history, consent ledger and reminders are never pruned here.

Rows go in small batches, each its own short transaction, through the time indexes of migration
0202: the orchestrator's writes never wait long behind a prune, and several orchestrators may
prune at once (a row deleted by one is simply not found by the other).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.tables import decisions, inbox, touches
from trellis.logs import error_kind

log = logging.getLogger(__name__)
PLANNED = "planned"  # the one touch status still waiting to be decided


@dataclass(frozen=True)
class Retention:
    inbox: timedelta | None
    decisions: timedelta | None
    touches: timedelta | None

    @classmethod
    def of_days(cls, inbox: float, decisions: float, touches: float) -> Retention:
        """Days to timedeltas; 0 keeps a table's rows forever."""

        def days(n: float) -> timedelta | None:
            return timedelta(days=n) if n > 0 else None

        return cls(days(inbox), days(decisions), days(touches))


async def _prune_table(
    engine: AsyncEngine, table: Table, key: Column[Any], older: ColumnElement[bool], batch: int
) -> int:
    deleted = 0
    while True:
        async with engine.begin() as conn:
            ids = select(key).where(older).limit(batch).scalar_subquery()
            result = await conn.execute(delete(table).where(key.in_(ids)))
        deleted += result.rowcount or 0
        if (result.rowcount or 0) < batch:
            return deleted
        await asyncio.sleep(0)  # let the batch loop and the scheduler in between batches


async def prune_once(
    engine: AsyncEngine, retention: Retention, now: datetime, batch: int = 1000
) -> dict[str, int]:
    """Delete everything past its retention at ``now``; rows deleted, by table."""
    deleted: dict[str, int] = {}
    if retention.inbox is not None:
        old = inbox.c.received_at < now - retention.inbox
        deleted["inbox"] = await _prune_table(engine, inbox, inbox.c.event_id, old, batch)
    if retention.decisions is not None:
        old = decisions.c.decided_at < now - retention.decisions
        deleted["decisions"] = await _prune_table(engine, decisions, decisions.c.id, old, batch)
    if retention.touches is not None:
        old = (touches.c.created_at < now - retention.touches) & (touches.c.status != PLANNED)
        deleted["touches"] = await _prune_table(engine, touches, touches.c.id, old, batch)
    return deleted


async def prune_old_rows(
    engine: AsyncEngine,
    retention: Retention,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    interval_s: float,
    batch: int,
) -> None:
    """Prune every ``interval_s`` until ``stop``; a failed round (database down) is logged by
    its kind and tried again next round: pruning is never urgent."""
    while not stop.is_set():
        try:
            deleted = await prune_once(engine, retention, clock(), batch)
        except Exception as exc:  # logged by kind; the next round retries
            log.warning("prune-old-rows round failed: %s", error_kind(exc))
        else:
            if any(deleted.values()):
                log.info("prune-old-rows deleted %s", deleted)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
