"""``handle_reminder_clock``: time-driven reminder changes — a snooze ends, an untouched
reminder expires — through the pure state machine and into the decision log.

A woken reminder is open again and its rep is reminded again: a new ``rep_call_reminder`` touch
(its own id, so the notifier's once-per-touch ledger lets it through) due now, deferred to
working hours like any other. A reminder nobody acted on within ``expire_after`` of its due time
expires; its waiting touch, if any, is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.orchestrator.application.due import reminder_step
from services.orchestrator.application.unit_of_work import NewTouch, UnitOfWork
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import (
    Reminder,
    ReminderAction,
    ReminderStatus,
    transition,
)
from services.orchestrator.domain.touch_log import LaterReason, TouchDecision, stable_id
from services.orchestrator.domain.views import ReminderNote

EXPIRED_REASON = LaterReason.REMINDER_EXPIRED


@dataclass(frozen=True)
class Tended:
    woken: int
    expired: int


async def handle_reminder_clock(
    uow: UnitOfWork, now: datetime, expire_after: timedelta, version: str = ""
) -> Tended:
    woken = await uow.reminders.woken(now)
    people = await uow.contacts.views({r.contact_id for r in woken if r.contact_id})
    touches, log = [], []
    for r in woken:
        assert r.snoozed_until is not None and r.contact_id is not None
        transition(Reminder(ReminderStatus.SNOOZED, r.snoozed_until), ReminderAction.WAKE, now)
        tid = stable_id("t_", r.id, "wake", r.snoozed_until.isoformat())
        stage = people[r.contact_id].stage if r.contact_id in people else None
        touches.append(NewTouch(tid, r.contact_id, r.account_id, TouchChannel.REP_CALL_REMINDER,
                                f"reminders/{r.reason}", stage or "engaged",
                                reminder_step(r.reason, r.id), now))  # fmt: skip
        log.append(_log(r, TouchDecision.REMINDER_CREATED, LaterReason.SNOOZE_ENDED, tid, now,
                        version))  # fmt: skip
    await uow.reminders.set_status([r.id for r in woken], ReminderStatus.OPEN.value, now)
    await uow.touches.add(touches, now)
    expired = await uow.reminders.expiring(now - expire_after)
    for r in expired:
        transition(Reminder(ReminderStatus(r.status), r.snoozed_until), ReminderAction.EXPIRE, now)
    ids = [r.id for r in expired]
    await uow.reminders.set_status(ids, ReminderStatus.EXPIRED.value, now)
    await uow.touches.cancel([(i, EXPIRED_REASON.value) for i in ids])
    log += [_log(r, TouchDecision.TOUCH_SKIPPED, EXPIRED_REASON, r.id, now, version)
            for r in expired]  # fmt: skip
    await uow.decisions.log(log)
    return Tended(len(woken), len(expired))


def _log(
    r: ReminderNote, kind: TouchDecision, reason: Reason, touch_id: str, now: datetime, version: str
) -> DecisionRecord:
    return DecisionRecord(
        contact_id=r.contact_id, account_id=r.account_id, touch_id=touch_id, kind=kind,
        reason=reason, facts={"reminder": r.id, "rep": r.rep, "reminder_reason": r.reason},
        playbook_version=version or "nurture", decided_at=now,
    )  # fmt: skip
