"""Rep actions on a reminder (acknowledge, snooze, complete) through the pure state machine.

The row is read and written in one transaction (``SELECT ... FOR UPDATE`` on PostgreSQL) so two
clicks at once cannot both pass the transition check. Every action lands in the decision log.
Completing a reminder whose call touch is still waiting (e.g. deferred to working hours) skips
that touch: there is nothing left to remind the rep of. Acknowledging one ends a running pause
of its account's marketing (``application.account_plays.resume_account``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.plausibility import TimeWindow
from services.orchestrator.adapters import decision_log, touch_store
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.tables import reminders, touches
from services.orchestrator.application.account_plays import resume_account
from services.orchestrator.application.handoff_done import handoff_taken
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import (
    Reminder,
    ReminderAction,
    ReminderStatus,
    transition,
)
from services.orchestrator.ops.params import window_problem

CLOSED_BY_REP = "REMINDER_DONE"
MAX_SNOOZE = timedelta(days=30)
"""Longest snooze, by ``minutes`` or ``until``, from the API or the dashboard."""
SNOOZE_SKEW = timedelta(minutes=5)
"""How far in the past an ``until`` may be (a client's clock behind ours); it snoozes for
``MIN_SNOOZE``, as ``minutes=1`` would. Further back is a mistake, not skew: a 422."""
MIN_SNOOZE = timedelta(minutes=1)


def snooze_problem(until: datetime, now: datetime) -> str | None:
    """Why ``until`` is not a snooze end we take (more than ``MAX_SNOOZE`` ahead, or before
    ``now - SNOOZE_SKEW``, or not representable), or None."""
    return window_problem(TimeWindow(now - SNOOZE_SKEW, MAX_SNOOZE), until, now)


def snooze_end(until: datetime, now: datetime) -> datetime:
    """``until`` as stored: one within the skew (``<= now``) becomes ``now + MIN_SNOOZE``."""
    return max(until, now + MIN_SNOOZE)


class ReminderNotFound(LookupError):
    pass


class NotYourReminder(PermissionError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who acts: ``rep`` set means only that rep's reminders; ``label`` goes to the log."""

    label: str
    rep: str | None = None


async def act(
    conn: AsyncConnection,
    reminder_id: str,
    action: ReminderAction,
    now: datetime,
    actor: Actor,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Apply ``action``; raises ``ReminderNotFound``, ``NotYourReminder`` or
    ``InvalidTransition`` (the action is not allowed in the reminder's state)."""
    query = select(reminders).where(reminders.c.id == reminder_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise ReminderNotFound(reminder_id)
    r = row._mapping
    if actor.rep is not None and actor.rep != r["rep"]:
        raise NotYourReminder(reminder_id)
    before = Reminder(ReminderStatus(r["status"]), r["snoozed_until"])
    after = transition(before, action, now, until)
    await conn.execute(
        update(reminders)
        .where(reminders.c.id == reminder_id)
        .values(status=after.status.value, snoozed_until=after.snoozed_until, updated_at=now)
    )
    if action is ReminderAction.COMPLETE:
        await conn.execute(
            update(touches)
            .where(touches.c.id == reminder_id, touches.c.status == touch_store.PLANNED)
            .values(status=touch_store.SKIPPED, reason=CLOSED_BY_REP)
        )
    if action is ReminderAction.ACKNOWLEDGE and r["account_id"]:  # the rep has the account
        await resume_account(SqlUnitOfWork(conn), r["account_id"], now, actor.label)
    if action in (ReminderAction.ACKNOWLEDGE, ReminderAction.COMPLETE):  # a handoff is taken
        await handoff_taken(SqlUnitOfWork(conn), reminder_id, now, actor.label,
                            r["account_id"], r["rep"])  # fmt: skip
    facts: dict[str, Any] = {"from": before.status.value, "to": after.status.value,
                             "by": actor.label}  # fmt: skip
    if after.snoozed_until is not None:
        facts["until"] = after.snoozed_until.isoformat()
    await decision_log.log_decisions(conn, [DecisionRecord(
        contact_id=r["contact_id"], account_id=r["account_id"], touch_id=reminder_id,
        kind=f"reminder_{after.status.value}", reason=Reason(action.value.upper()), facts=facts,
        event_id=None, playbook_version="ops-api", decided_at=now,
    )])  # fmt: skip
    return dict(r) | {
        "status": after.status.value,
        "snoozed_until": after.snoozed_until,
        "updated_at": now,
    }
