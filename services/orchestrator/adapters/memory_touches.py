"""The touches and reminders repositories of the in-memory unit of work (``memory_uow``), with
the SQL ones' rules: a touch id is stored once, a change applies only from the statuses its SQL
statement names, claims are held by one claimer, due touches are claimed rep reminders first,
then in (due, id) order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.orchestrator.application.unit_of_work import (
    DISPATCHED,
    PLANNED,
    SKIPPED,
    Finished,
    Moved,
    NewReminder,
    NewTouch,
    Revived,
)
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.planner import ExistingTouch
from services.orchestrator.domain.reminders import ReminderStatus
from services.orchestrator.domain.views import ReminderNote, StoredTouch


@dataclass(frozen=True)
class TouchRow:
    """A stored touch with what the table keeps besides ``StoredTouch``."""

    touch: StoredTouch
    status: str
    reason: str | None = None
    claimed_by: str | None = None


class MemoryTouches:
    def __init__(self) -> None:
        self.rows: dict[str, TouchRow] = {}

    def _set(self, touch_id: str, **changes: object) -> None:
        self.rows[touch_id] = replace(self.rows[touch_id], **changes)  # type: ignore[arg-type]

    async def existing(self, contact_ids: Iterable[str]) -> dict[str, list[ExistingTouch]]:
        out: dict[str, list[ExistingTouch]] = {c: [] for c in contact_ids}
        for r in self.rows.values():
            t = r.touch
            if t.contact_id in out:
                out[t.contact_id].append(ExistingTouch.stored(
                    t.id, t.sequence_step, t.stage, t.channel, r.status, r.reason
                ))  # fmt: skip
        return out

    async def add(self, new: Sequence[NewTouch], now: datetime) -> None:
        for t in new:
            if t.id not in self.rows:
                stored = StoredTouch(t.id, t.contact_id, t.account_id, t.channel.value,
                                     t.template, t.stage, t.step, t.due_at)  # fmt: skip
                self.rows[t.id] = TouchRow(stored, PLANNED)

    async def revive(self, revived: Sequence[Revived]) -> None:
        for r in revived:
            if r.id in self.rows and self.rows[r.id].status == SKIPPED:
                touch = replace(self.rows[r.id].touch, due_at=r.due_at, stage=r.stage)
                self.rows[r.id] = TouchRow(touch, PLANNED)

    async def cancel(self, cancels: Sequence[tuple[str, str]]) -> None:
        for touch_id, reason in cancels:
            if touch_id in self.rows and self.rows[touch_id].status == PLANNED:
                self._set(touch_id, status=SKIPPED, reason=reason, claimed_by=None)

    async def skip_sequence(
        self, sequence_id: str, contact_ids: Sequence[str], reason: str
    ) -> list[tuple[str, str, str | None]]:
        who = set(contact_ids)
        out = []
        for r in list(self.rows.values()):
            t = r.touch
            if (r.status == PLANNED and t.contact_id in who
                    and (t.sequence_step or "").startswith(f"{sequence_id}/")):  # fmt: skip
                self._set(t.id, status=SKIPPED, reason=reason, claimed_by=None)
                out.append((t.id, t.contact_id, t.account_id))
        return out

    async def claim_due(self, me: str, now: datetime, limit: int) -> list[StoredTouch]:
        due = sorted(
            (r.touch for r in self.rows.values()
             if r.status == PLANNED and r.touch.due_at <= now and r.claimed_by is None),
            key=lambda t: (not TouchChannel(t.channel).is_reminder, t.due_at, t.id),
        )[:limit]  # rep reminders first, as the SQL claim  # fmt: skip
        for t in due:
            self._set(t.id, claimed_by=me)
        return sorted(due, key=lambda t: (t.due_at, t.id))  # decided in this order, as SQL

    async def lock(self, keys: Iterable[str]) -> None:
        """One simulated writer: nothing to wait for."""

    async def sent_since(
        self, contact_ids: Iterable[str], account_ids: Iterable[str], since: datetime
    ) -> list[SentTouch]:
        people, accounts = set(contact_ids), set(account_ids)
        return [
            SentTouch(t.contact_id, t.account_id, TouchChannel(t.channel), t.dispatched_at)
            for r in self.rows.values()
            if r.status == DISPATCHED and (t := r.touch).dispatched_at is not None
            and t.dispatched_at > since and (t.contact_id in people or t.account_id in accounts)
        ]  # fmt: skip

    async def finish(self, results: Sequence[Finished], me: str, now: datetime) -> None:
        for f in results:
            row = self.rows.get(f.touch_id)
            if row is None or row.claimed_by != me:
                continue
            touch = row.touch
            if f.status == DISPATCHED:
                touch = replace(touch, dispatched_at=now)
            if f.due_at is not None:
                touch = replace(touch, due_at=f.due_at)
            self.rows[f.touch_id] = TouchRow(touch, f.status, f.reason)

    async def by_ids(self, ids: Iterable[str]) -> dict[str, StoredTouch]:
        return {i: self.rows[i].touch for i in ids if i in self.rows}

    async def set_statuses(self, statuses: Mapping[str, str]) -> None:
        for touch_id, status in statuses.items():
            if touch_id in self.rows:
                self._set(touch_id, status=status)

    async def planned_at(self, account_ids: Iterable[str]) -> list[tuple[StoredTouch, str | None]]:
        wanted = set(account_ids)
        found = [r for r in self.rows.values()
                 if r.status == PLANNED and r.touch.account_id in wanted]  # fmt: skip
        return [(r.touch, r.reason) for r in sorted(found, key=lambda r: r.touch.id)]

    async def move(self, moves: Sequence[Moved]) -> None:
        for m in moves:
            row = self.rows.get(m.id)
            if row is not None and row.status == PLANNED:
                self.rows[m.id] = replace(row, touch=replace(row.touch, due_at=m.due_at),
                                          reason=m.reason)  # fmt: skip


class MemoryReminders:
    def __init__(self) -> None:
        self.stored: dict[str, ReminderNote] = {}
        self.created_at: dict[str, datetime] = {}

    async def recent(self, contact_ids: Iterable[str], since: datetime) -> set[tuple[str, str]]:
        wanted = set(contact_ids)
        return {
            (n.contact_id, n.reason)
            for n in self.stored.values()
            if n.contact_id in wanted and self.created_at[n.id] > since
        }

    async def add(self, new: Sequence[NewReminder], now: datetime) -> None:
        for r in new:
            if r.id not in self.stored:
                self.stored[r.id] = ReminderNote(
                    r.id,
                    r.rep,
                    r.reason,
                    list(r.evidence),
                    list(r.talking_points),
                    r.contact_id,
                    r.account_id,
                    ReminderStatus.OPEN.value,
                    None,
                    r.due_at,
                )
                self.created_at[r.id] = now

    async def notes(self, ids: Iterable[str]) -> dict[str, ReminderNote]:
        return {i: self.stored[i] for i in ids if i in self.stored}

    async def woken(self, now: datetime) -> list[ReminderNote]:
        return sorted(
            (n for n in self.stored.values() if n.status == ReminderStatus.SNOOZED.value
             and n.snoozed_until is not None and n.snoozed_until <= now),
            key=lambda n: n.id,
        )  # fmt: skip

    async def expiring(self, stale: datetime) -> list[ReminderNote]:
        def late(n: ReminderNote) -> bool:
            if n.status == ReminderStatus.OPEN.value:
                return n.due_at is not None and n.due_at < stale
            return (n.status == ReminderStatus.SNOOZED.value
                    and n.snoozed_until is not None and n.snoozed_until < stale)  # fmt: skip

        return sorted((n for n in self.stored.values() if late(n)), key=lambda n: n.id)

    async def set_status(self, ids: Sequence[str], status: str, now: datetime) -> None:
        for i in ids:
            self.stored[i] = replace(self.stored[i], status=status, snoozed_until=None)
