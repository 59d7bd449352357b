"""The handoffs repository in memory (``trellis simulate``, handler tests): the same rules as
``sql_handoffs`` (ids stored once, open = not completed, the same due condition)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from services.orchestrator.domain.handoffs import Handoff, TeamOwner


class MemoryHandoffs:
    def __init__(self) -> None:
        self.owner_of: dict[tuple[str, str], TeamOwner] = {}
        self.stored: dict[str, Handoff] = {}

    async def owners(self, account_ids: Iterable[str]) -> dict[tuple[str, str], TeamOwner]:
        wanted = set(account_ids)
        return {k: o for k, o in self.owner_of.items() if k[0] in wanted}

    async def set_owners(self, owners: Sequence[TeamOwner]) -> None:
        for o in owners:
            self.owner_of[(o.account_id, o.team)] = o

    async def owned_counts(self, team: str) -> Counter[str]:
        return Counter(o.owner for (_, t), o in self.owner_of.items() if t == team)

    async def add(self, new: Sequence[Handoff]) -> list[Handoff]:
        fresh = list({h.id: h for h in new if h.id not in self.stored}.values())
        self.stored.update((h.id, h) for h in fresh)
        return fresh

    async def open_at(self, account_ids: Iterable[str]) -> list[Handoff]:
        wanted = set(account_ids)
        return self._where(lambda h: h.account_id in wanted)

    async def recent(self, account_ids: Iterable[str], since: datetime) -> list[Handoff]:
        wanted = set(account_ids)
        found = [h for h in self.stored.values()
                 if h.account_id in wanted and (h.open or h.created_at > since)]  # fmt: skip
        return sorted(found, key=lambda h: (h.created_at, h.id))

    async def by_reminder(self, reminder_id: str) -> list[Handoff]:
        return self._where(lambda h: h.reminder_id == reminder_id)

    async def due(self, now: datetime) -> list[Handoff]:
        def stepping(h: Handoff) -> bool:
            late = h.breached_at is None or (h.escalated_at is None and h.escalate_at <= now)
            return h.deadline_at <= now and late

        return self._where(stepping)

    async def save(self, changed: Sequence[Handoff]) -> None:
        self.stored.update((h.id, h) for h in changed)

    def next_step_at(self) -> datetime | None:
        """When the clock next has something to do (simulate moves its time there too)."""
        times = [
            h.deadline_at if h.breached_at is None else h.escalate_at
            for h in self.stored.values()
            if h.open and (h.breached_at is None or h.escalated_at is None)
        ]
        return min(times, default=None)

    def _where(self, keep: Callable[[Handoff], bool]) -> list[Handoff]:
        found = [h for h in self.stored.values() if h.open and keep(h)]
        return sorted(found, key=lambda h: (h.created_at, h.id))
