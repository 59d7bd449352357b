"""The revenue facts repository of the in-memory unit of work: each revenue event's contact and
account resolved as ``revenue_store.record_applied`` resolves them live (stored aliases, the
account's CRM id or domain, else the contact's account), kept as ``RevenueFact``s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from schemas.events import EngagementEvent
from services.orchestrator.adapters.revenue_store import KINDS, fact_of, row_of
from services.orchestrator.domain.identity import account_refs, contact_aliases
from services.orchestrator.domain.kpis import RevenueFact

if TYPE_CHECKING:
    from services.orchestrator.adapters.memory_uow import MemoryAccounts, MemoryContacts


class MemoryRevenue:
    def __init__(self, contacts: MemoryContacts, accounts: MemoryAccounts) -> None:
        self.contacts, self.accounts = contacts, accounts
        self.stored: list[tuple[datetime, str, RevenueFact]] = []

    def _account(self, external_id: str | None, domain: str | None) -> str | None:
        for aid, ext in self.accounts.external_id_of.items():
            if external_id and ext == external_id:
                return aid
        for aid, view in self.accounts.view_of.items():
            if domain and view.domain == domain:
                return aid
        return None

    async def record(self, events: Sequence[EngagementEvent]) -> int:
        mine = [e for e in events if e.type in KINDS]
        aliases = self.contacts.alias_of
        for e in mine:
            cid = next((aliases[a] for a in contact_aliases(e) if a in aliases), None)
            home = self.contacts.view_of[cid].account_id if cid in self.contacts.view_of else None
            aid = self._account(*account_refs(e)) or home
            self.stored.append((e.time, e.id, fact_of(row_of(e, cid, aid))))
        return len(mine)

    async def facts(self, until: datetime) -> list[RevenueFact]:
        return [f for at, _, f in sorted(self.stored, key=lambda s: s[:2]) if at < until]
