"""After the database is restored to time T: nothing the notifier sent after T is sent again.

The restored send ledger has forgotten every touch sent after T, and the orchestrator will
dispatch those touches again. The outcomes topic has not forgotten: every provider call left a
``sent`` (or a final ``failed``) there. ``trellis reconcile --since T`` reads it and writes those
touches back into the ledger as final, before the notifier starts; a re-dispatched command then
finds its touch already sent and only re-publishes the outcome (the orchestrator deduplicates it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.outcomes import OutcomeStatus, TouchOutcome
from schemas.topics import OUTCOMES
from services.notifier.tables import send_ledger
from trellis.settings import TrellisSettings
from trellis.topic_reader import read_to_end

ACCEPTED = {OutcomeStatus.SENT, OutcomeStatus.DELIVERED, OutcomeStatus.BOUNCED,
            OutcomeStatus.COMPLAINED}  # fmt: skip
"""The provider took the message: sending it again would be a duplicate."""


@dataclass(frozen=True)
class Settled:
    touch_id: str
    channel: str
    status: str  # the ledger's word: sent | failed
    provider_id: str | None


def settled(outcomes: Iterable[TouchOutcome], since: datetime) -> dict[str, Settled]:
    """Touches whose provider call is known to be over after ``since``: accepted ones as
    ``sent`` (whatever came later), final failures as ``failed``; a retryable failure is left out
    (sending it again is the retry)."""
    found: dict[str, Settled] = {}
    for o in outcomes:
        if o.touch_id is None or o.occurred_at < since:
            continue
        if o.status in ACCEPTED:
            found[o.touch_id] = Settled(o.touch_id, o.channel.value, "sent", o.provider_id)
        elif o.status == OutcomeStatus.FAILED and not o.retryable:
            found.setdefault(o.touch_id, Settled(o.touch_id, o.channel.value, "failed", None))
    return found


async def read_outcomes(settings: TrellisSettings) -> list[TouchOutcome]:
    """Every outcome still on the topic (its retention bounds how far back a restore may go)."""
    outcomes: list[TouchOutcome] = []
    async for values in read_to_end(settings, OUTCOMES):
        for value in values:
            try:
                outcomes.append(TouchOutcome.model_validate(orjson.loads(value or b"")))
            except (orjson.JSONDecodeError, ValidationError):
                continue  # poison: dead-lettered by the orchestrator, says nothing of a send
    return outcomes


async def reconcile(engine: AsyncEngine, touches: Iterable[Settled], now: datetime) -> int:
    """Write each settled touch into the send ledger as final: a new row, or one the restore
    left ``sending``/``queued``. Rows already final are kept. Returns the rows written."""
    rows = [
        {"touch_id": t.touch_id, "channel": t.channel, "status": t.status, "attempts": 1,
         "provider_id": t.provider_id, "error": "reconciled after a restore" if
         t.status == "failed" else None, "created_at": now, "updated_at": now}
        for t in touches
    ]  # fmt: skip
    if not rows:
        return 0
    written = 0
    async with engine.begin() as conn:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        base = insert(send_ledger)
        stmt = base.on_conflict_do_update(
            index_elements=[send_ledger.c.touch_id],
            set_={"status": base.excluded.status, "provider_id": base.excluded.provider_id,
                  "error": base.excluded.error, "updated_at": base.excluded.updated_at},
            where=(send_ledger.c.status == "sending") | (send_ledger.c.status == "queued"),
        ).returning(send_ledger.c.touch_id)  # fmt: skip
        for lo in range(0, len(rows), 1000):
            written += len((await conn.execute(stmt, rows[lo : lo + 1000])).all())
    return written
