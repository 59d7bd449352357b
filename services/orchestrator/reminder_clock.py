"""Time-driven reminder changes: a snooze ends, an untouched reminder expires.

Run by the scheduler each round. A woken reminder is open again and its rep is reminded again:
a new ``rep_call_reminder`` touch (its own id, so the notifier's once-per-touch ledger lets it
through) due now, deferred to working hours like any other. A reminder nobody acted on within
``expire_after`` of its due time expires; its waiting touch, if any, is skipped. Both go through
the pure state machine and into the decision log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import decision_log, touch_store
from services.orchestrator.adapters.tables import contacts, reminders, touches
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import (
    Reminder,
    ReminderAction,
    ReminderStatus,
    transition,
)
from services.orchestrator.domain.touch_log import LaterReason, TouchDecision, stable_id

REMINDER_STEP = "reminder"
EXPIRED_REASON = LaterReason.REMINDER_EXPIRED


@dataclass(frozen=True)
class Tended:
    woken: int
    expired: int


def reminder_step(reason: str, reminder_id: str) -> str:
    """``sequence_step`` of a reminder's touch: the scheduler finds the reminder through it."""
    return f"{REMINDER_STEP}/{reason}/{reminder_id}"


def reminder_of_step(step: str | None) -> str | None:
    parts = (step or "").split("/")
    return parts[2] if len(parts) == 3 and parts[0] == REMINDER_STEP else None


async def tend_reminders(
    conn: AsyncConnection, now: datetime, expire_after: timedelta, version: str = ""
) -> Tended:
    woken = await _wake(conn, now, version)
    expired = await _expire(conn, now, expire_after, version)
    return Tended(woken, expired)


async def _wake(conn: AsyncConnection, now: datetime, version: str) -> int:
    query = select(reminders).where(
        reminders.c.status == ReminderStatus.SNOOZED.value, reminders.c.snoozed_until <= now
    )
    rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    stages = await _stages(conn, {r["contact_id"] for r in rows if r["contact_id"]})
    touch_rows, log = [], []
    for r in rows:
        transition(Reminder(ReminderStatus.SNOOZED, r["snoozed_until"]), ReminderAction.WAKE, now)
        tid = stable_id("t_", r["id"], "wake", r["snoozed_until"].isoformat())
        touch_rows.append(touch_store.planned_row(
            tid, r["contact_id"], r["account_id"], TouchChannel.REP_CALL_REMINDER.value,
            f"reminders/{r['reason']}", stages.get(r["contact_id"], "engaged"),
            reminder_step(r["reason"], r["id"]), now, now,
        ))  # fmt: skip
        log.append(
            _log(r, TouchDecision.REMINDER_CREATED, LaterReason.SNOOZE_ENDED, tid, now, version)
        )
    if rows:
        await conn.execute(
            update(reminders)
            .where(reminders.c.id.in_([r["id"] for r in rows]))
            .values(status=ReminderStatus.OPEN.value, snoozed_until=None, updated_at=now)
        )
        await touch_store.add_touches(conn, touch_rows)
        await decision_log.log_decisions(conn, log)
    return len(rows)


async def _expire(
    conn: AsyncConnection, now: datetime, expire_after: timedelta, version: str
) -> int:
    stale = now - expire_after
    query = select(reminders).where(
        or_(
            and_(reminders.c.status == ReminderStatus.OPEN.value, reminders.c.due_at < stale),
            and_(
                reminders.c.status == ReminderStatus.SNOOZED.value,
                reminders.c.snoozed_until < stale,
            ),
        )
    )
    rows = [dict(r) for r in (await conn.execute(query)).mappings()]
    for r in rows:
        before = Reminder(ReminderStatus(r["status"]), r["snoozed_until"])
        transition(before, ReminderAction.EXPIRE, now)
    if not rows:
        return 0
    ids = [r["id"] for r in rows]
    await conn.execute(
        update(reminders)
        .where(reminders.c.id.in_(ids))
        .values(status=ReminderStatus.EXPIRED.value, snoozed_until=None, updated_at=now)
    )
    await conn.execute(
        update(touches)
        .where(touches.c.id.in_(ids), touches.c.status == touch_store.PLANNED)
        .values(status=touch_store.SKIPPED, reason=EXPIRED_REASON)
    )
    await decision_log.log_decisions(
        conn,
        [_log(r, TouchDecision.TOUCH_SKIPPED, EXPIRED_REASON, r["id"], now, version) for r in rows],
    )
    return len(rows)


async def _stages(conn: AsyncConnection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    query = select(contacts.c.id, contacts.c.stage).where(contacts.c.id.in_(sorted(ids)))
    found = await conn.execute(query)
    return {cid: stage for cid, stage in found}


def _log(
    r: Mapping[str, Any], kind: TouchDecision, reason: str, touch_id: str, now: datetime,
    version: str,
) -> DecisionRecord:  # fmt: skip
    return DecisionRecord(
        contact_id=r["contact_id"], account_id=r["account_id"], touch_id=touch_id, kind=kind,
        reason=reason,
        facts={"reminder": r["id"], "rep": r["rep"], "reminder_reason": r["reason"]},
        playbook_version=version or "nurture", decided_at=now,
    )  # fmt: skip
