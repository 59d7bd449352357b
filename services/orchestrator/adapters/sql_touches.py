"""The touches and reminders repositories of the SQL unit of work (``sql_uow``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import bulk, touch_store
from services.orchestrator.adapters.tables import reminders, touches
from services.orchestrator.application.unit_of_work import (
    Finished,
    Moved,
    NewReminder,
    NewTouch,
    Revived,
)
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.planner import ExistingTouch
from services.orchestrator.domain.reminders import ReminderStatus
from services.orchestrator.domain.views import ReminderNote, StoredTouch


class _Part:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn


@cache
def _existing(postgresql: bool) -> Select[Any]:
    """Built once per backend (``bulk.in_ids``)."""
    t = touches.c
    return select(
        t.id, t.contact_id, t.sequence_step, t.stage, t.channel, t.status, t.reason
    ).where(bulk.in_ids(t.contact_id, postgresql))


class SqlTouches(_Part):
    async def existing(self, contact_ids: Iterable[str]) -> dict[str, list[ExistingTouch]]:
        wanted = sorted(set(contact_ids))
        out: dict[str, list[ExistingTouch]] = {c: [] for c in wanted}
        if not wanted:
            return out
        rows = await self.conn.execute(
            _existing(bulk.is_postgresql(self.conn)), bulk.ids(self.conn, wanted)
        )
        for r in rows:
            out[r.contact_id].append(ExistingTouch.stored(
                r.id, r.sequence_step, r.stage, r.channel, r.status, r.reason
            ))  # fmt: skip
        return out

    async def add(self, new: Sequence[NewTouch], now: datetime) -> None:
        await touch_store.add_touches(self.conn, [
            touch_store.planned_row(t.id, t.contact_id, t.account_id, t.channel.value,
                                    t.template, t.stage, t.step, t.due_at, now)
            for t in new
        ])  # fmt: skip

    async def revive(self, revived: Sequence[Revived]) -> None:
        if not revived:
            return
        await self.conn.execute(
            update(touches)
            .where(touches.c.id == bindparam("b_id"), touches.c.status == touch_store.SKIPPED)
            .values(status=touch_store.PLANNED, reason=None, claimed_by=None,
                    due_at=bindparam("b_due"), stage=bindparam("b_stage")),
            [{"b_id": r.id, "b_due": r.due_at, "b_stage": r.stage} for r in revived],
        )  # fmt: skip

    async def cancel(self, cancels: Sequence[tuple[str, str]]) -> None:
        if not cancels:
            return
        await self.conn.execute(
            update(touches)
            .where(touches.c.id == bindparam("b_id"), touches.c.status == touch_store.PLANNED)
            .values(status=touch_store.SKIPPED, reason=bindparam("b_reason"), claimed_by=None),
            [{"b_id": touch_id, "b_reason": reason} for touch_id, reason in cancels],
        )

    async def skip_sequence(
        self, sequence_id: str, contact_ids: Sequence[str], reason: str
    ) -> list[tuple[str, str, str | None]]:
        return await touch_store.skip_sequence(self.conn, sequence_id, contact_ids, reason)

    async def claim_due(self, me: str, now: datetime, limit: int) -> list[StoredTouch]:
        return await touch_store.claim_due(self.conn, me, now, limit)

    async def lock(self, keys: Iterable[str]) -> None:
        await touch_store.lock_recipients(self.conn, keys)

    async def sent_since(
        self, contact_ids: Iterable[str], account_ids: Iterable[str], since: datetime
    ) -> list[SentTouch]:
        return await touch_store.sent_history(self.conn, contact_ids, account_ids, since)

    async def finish(self, results: Sequence[Finished], me: str, now: datetime) -> None:
        endings = [(f.touch_id, f.status, f.reason, f.due_at) for f in results]
        await touch_store.finish_all(self.conn, endings, me, now)

    async def by_ids(self, ids: Iterable[str]) -> dict[str, StoredTouch]:
        found = await self.conn.execute(select(touches).where(touches.c.id.in_(sorted(ids))))
        return {r["id"]: StoredTouch.from_row(r) for r in found.mappings()}

    async def set_statuses(self, statuses: Mapping[str, str]) -> None:
        await touch_store.set_statuses(self.conn, statuses)

    async def planned_at(self, account_ids: Iterable[str]) -> list[tuple[StoredTouch, str | None]]:
        wanted = sorted(set(account_ids))
        if not wanted:
            return []
        rows = await self.conn.execute(
            select(touches)
            .where(touches.c.account_id.in_(wanted), touches.c.status == touch_store.PLANNED)
            .order_by(touches.c.id)
        )
        return [(StoredTouch.from_row(r), r["reason"]) for r in rows.mappings()]

    async def move(self, moves: Sequence[Moved]) -> None:
        if moves:
            await self.conn.execute(
                update(touches)
                .where(touches.c.id == bindparam("b_id"),
                       touches.c.status == touch_store.PLANNED)
                .values(due_at=bindparam("b_due"), reason=bindparam("b_reason")),
                [{"b_id": m.id, "b_due": m.due_at, "b_reason": m.reason} for m in moves],
            )  # fmt: skip


class SqlReminders(_Part):
    async def recent(self, contact_ids: Iterable[str], since: datetime) -> set[tuple[str, str]]:
        return await touch_store.recent_reminders(self.conn, contact_ids, since)

    async def add(self, new: Sequence[NewReminder], now: datetime) -> None:
        await touch_store.add_reminders(self.conn, [{
            "id": r.id, "rep": r.rep, "contact_id": r.contact_id, "account_id": r.account_id,
            "reason": r.reason, "status": "open", "evidence": list(r.evidence),
            "talking_points": list(r.talking_points), "snoozed_until": None, "due_at": r.due_at,
            "created_at": now, "updated_at": now, "suppressed": False,
        } for r in new])  # fmt: skip

    async def notes(self, ids: Iterable[str]) -> dict[str, ReminderNote]:
        rows = await self.conn.execute(select(reminders).where(reminders.c.id.in_(set(ids))))
        return {r["id"]: ReminderNote.from_row(r) for r in rows.mappings()}

    async def _where(self, *clauses: Any) -> list[ReminderNote]:
        rows = await self.conn.execute(select(reminders).where(*clauses).order_by(reminders.c.id))
        return [ReminderNote.from_row(r) for r in rows.mappings()]

    async def woken(self, now: datetime) -> list[ReminderNote]:
        snoozed = reminders.c.status == ReminderStatus.SNOOZED.value
        return await self._where(snoozed, reminders.c.snoozed_until <= now)

    async def expiring(self, stale: datetime) -> list[ReminderNote]:
        return await self._where(or_(
            and_(reminders.c.status == ReminderStatus.OPEN.value, reminders.c.due_at < stale),
            and_(reminders.c.status == ReminderStatus.SNOOZED.value,
                 reminders.c.snoozed_until < stale),
        ))  # fmt: skip

    async def set_status(self, ids: Sequence[str], status: str, now: datetime) -> None:
        if ids:
            await self.conn.execute(
                update(reminders)
                .where(reminders.c.id.in_(list(ids)))
                .values(status=status, snoozed_until=None, updated_at=now)
            )
