"""The revenue facts repository of the in-memory unit of work: the rows ``revenue_store`` would
keep, as ``RevenueFact``s, under the contact and account the batch resolved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from schemas.events import EngagementEvent
from services.orchestrator.adapters.revenue_store import KINDS, fact_of, row_of
from services.orchestrator.domain.kpis import RevenueFact


class MemoryRevenue:
    def __init__(self) -> None:
        self.stored: list[tuple[datetime, str, RevenueFact]] = []

    async def record(
        self,
        events: Sequence[EngagementEvent],
        contact_of: Mapping[str, str],
        account_of: Mapping[str, str | None],
    ) -> int:
        mine = [e for e in events if e.type in KINDS]
        for e in mine:
            row = row_of(e, contact_of.get(e.id), account_of.get(e.id))
            self.stored.append((e.time, e.id, fact_of(row)))
        return len(mine)

    async def facts(self, until: datetime) -> list[RevenueFact]:
        return [f for at, _, f in sorted(self.stored, key=lambda s: s[:2]) if at < until]
