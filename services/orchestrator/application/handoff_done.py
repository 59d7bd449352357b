"""When a handoff is done: an event that counts for its kind at its account (a meeting booked,
a logged call), or its owner acknowledging its reminder (or another reminder of theirs at the
account, for a lead)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.orchestrator.application.unit_of_work import UnitOfWork
from services.orchestrator.domain.handoffs import HandoffKind, completes
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.records import decided as record
from services.orchestrator.domain.reminders import Signal
from services.orchestrator.domain.touch_log import TouchDecision

Log = list[DecisionRecord]


async def complete_by_events(
    uow: UnitOfWork, config: NurtureConfig, signals: Sequence[Signal], now: datetime, log: Log
) -> None:
    """An event that counts for a handoff's kind (``completed_by``) at its account completes it:
    first contact at the event's time (never before the handoff was made)."""
    hits = [s for s in signals if s.account_id
            and any(completes(sla, s.type) for sla in config.handoffs.values())]  # fmt: skip
    if not hits:
        return
    for h in await uow.handoffs.open_at({s.account_id for s in hits if s.account_id}):
        done = [s for s in hits if s.account_id == h.account_id
                and completes(config.handoffs[h.kind], s.type)]  # fmt: skip
        if not done:
            continue
        first = min(done, key=lambda s: (s.occurred_at, s.event_id))
        at = max(first.occurred_at, h.created_at)
        await uow.handoffs.save([replace(h, first_contact_at=at, completed_at=at)])
        log.append(record(TouchDecision.HANDOFF_COMPLETED, Reason.HANDOFF_DONE, first.contact_id,
                          h.account_id, now, {"handoff": h.id, "kind": h.kind.value,
                                              "by": first.type, "owner": h.owner},
                          event_id=first.event_id))  # fmt: skip


async def handoff_taken(
    uow: UnitOfWork,
    reminder_id: str,
    now: datetime,
    by: str,
    account_id: str | None = None,
    rep: str | None = None,
) -> int:
    """The owner acknowledged (or completed) a handoff's reminder, or (``account_id``, ``rep``)
    another reminder at the account: an open MQL or SQL handoff of theirs there is accepted too
    (the rep who acknowledged the demo request has the lead; a kickoff needs its own)."""
    taken = await uow.handoffs.by_reminder(reminder_id)
    if not taken and account_id and rep:
        taken = [h for h in await uow.handoffs.open_at([account_id])
                 if h.owner == rep and h.kind is not HandoffKind.CSM_KICKOFF]  # fmt: skip
    taken = [replace(h, accepted_at=now, completed_at=now) for h in taken]
    await uow.handoffs.save(taken)
    await uow.decisions.log([
        record(TouchDecision.HANDOFF_COMPLETED, Reason.HANDOFF_DONE, h.contact_id, h.account_id,
               now, {"handoff": h.id, "kind": h.kind.value, "by": by, "owner": h.owner},
               touch_id=reminder_id, version="ops-api")
        for h in taken
    ])  # fmt: skip
    return len(taken)
