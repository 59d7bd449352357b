"""The unit of work in memory: what ``trellis simulate`` and the handler unit tests run the
handlers on. It keeps the same rules as the SQL repositories (idempotent inserts, claims, the
touch statuses each change may start from) so a handler behaves the same on both; nothing is
rolled back, so a failing handler leaves what it had changed (simulate stops there anyway)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from services.orchestrator.adapters.memory_handoffs import MemoryHandoffs
from services.orchestrator.adapters.memory_revenue import MemoryRevenue
from services.orchestrator.adapters.memory_touches import MemoryReminders, MemoryTouches, TouchRow
from services.orchestrator.adapters.memory_value_watch import MemoryValueWatches
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.account_plays import PAUSED, RESUMED, PauseMark, pause_mark
from services.orchestrator.domain.consent import ConsentLedger, LedgerRow, admit_rows
from services.orchestrator.domain.identity import AccountMerge, KnownIdentity
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.state import (
    AccountState,
    ContactState,
    LogEntry,
    Redated,
    Transition,
)
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote


class MemoryInbox:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    async def claim(self, entries: Sequence[InboxEntry], now: datetime) -> set[str]:
        fresh = {e.event_id for e in entries} - self.seen
        self.seen |= fresh
        return fresh


def _short(value: object) -> str | None:
    return value[:64] if isinstance(value, str) else None


@dataclass
class MemoryContacts:
    alias_of: dict[str, str] = field(default_factory=dict)
    state_of: dict[str, ContactState] = field(default_factory=dict)
    view_of: dict[str, ContactView] = field(default_factory=dict)
    external_id_of: dict[str, str | None] = field(default_factory=dict)
    history: list[tuple[Transition, str]] = field(default_factory=list)

    async def aliases(self, aliases: Iterable[str]) -> dict[str, str]:
        return {a: self.alias_of[a] for a in aliases if a in self.alias_of}

    async def save_aliases(
        self, new: Mapping[str, str], moved: Mapping[str, str], now: datetime
    ) -> None:
        for alias, cid in new.items():
            self.alias_of.setdefault(alias, cid)
        self.alias_of.update(moved)

    async def states(self, ids: Iterable[str]) -> dict[str, ContactState]:
        return {i: self.state_of[i] for i in ids if i in self.state_of}

    async def save(
        self, states: Mapping[str, ContactState], identity: Mapping[str, KnownIdentity],
        now: datetime,
    ) -> None:  # fmt: skip
        for cid, s in states.items():
            known = identity.get(cid) or KnownIdentity()
            before = self.view_of.get(cid) or ContactView(cid)
            traits = s.current.contact_traits
            self.state_of[cid] = s
            self.external_id_of[cid] = known.external_id or self.external_id_of.get(cid)
            self.view_of[cid] = replace(
                before, account_id=s.account_key, email=known.email or before.email,
                stage=str(s.current.stage or "awareness"), role=_short(traits.get("role")),
                timezone=_short(traits.get("timezone")), traits=dict(traits),
            )  # fmt: skip

    async def retire(self, losers: Iterable[str], now: datetime) -> None:
        for loser in losers:
            if loser in self.view_of:
                self.view_of[loser] = replace(self.view_of[loser], email=None, stage="merged")
                self.external_id_of[loser] = None
            self.state_of.pop(loser, None)

    async def of_accounts(self, account_ids: Iterable[str]) -> dict[str, ContactState]:
        wanted = set(account_ids)  # retired contacts have no state here
        return {k: s for k, s in self.state_of.items() if s.account_key in wanted}

    async def add_history(self, transitions: Sequence[Transition], version: str) -> None:
        self.history += [(t, version) for t in transitions]

    async def redate_history(self, moves: Sequence[Redated]) -> None:
        new = {(o.event_id, o.occurred_at, o.from_stage, o.to_stage): n for o, n in moves}
        self.history = [
            (replace(t, occurred_at=n.occurred_at, event_id=n.event_id), v)
            if (n := new.get((t.event_id, t.occurred_at, t.from_stage, t.to_stage)))
            else (t, v)
            for t, v in self.history
        ]

    async def views(self, ids: Iterable[str]) -> dict[str, ContactView]:
        return {i: self.view_of[i] for i in ids if i in self.view_of}

    async def set_owners(self, owners: Mapping[str, str], *, if_unowned: bool) -> None:
        _set_owners(self.view_of, owners, if_unowned)

    async def by_phone(self, phones: Iterable[str]) -> dict[str, list[str]]:
        wanted = set(phones)
        owners: dict[str, list[str]] = {}
        for cid in sorted(self.view_of):
            phone = self.view_of[cid].traits.get("phone")
            if isinstance(phone, str) and phone in wanted:
                owners.setdefault(phone, []).append(cid)
        return owners


@dataclass
class MemoryAccounts:
    state_of: dict[str, AccountState] = field(default_factory=dict)
    view_of: dict[str, AccountView] = field(default_factory=dict)
    external_id_of: dict[str, str | None] = field(default_factory=dict)
    merged_into: dict[str, str] = field(default_factory=dict)
    # the other repositories' stores, shared: a merge moves what names the merged-away account
    history: list[tuple[Transition, str]] = field(default_factory=list)
    contact_views: dict[str, ContactView] = field(default_factory=dict)
    touch_rows: dict[str, TouchRow] = field(default_factory=dict)
    reminder_notes: dict[str, ReminderNote] = field(default_factory=dict)

    async def known(
        self, external_ids: Iterable[str], domains: Iterable[str]
    ) -> list[tuple[str, str | None, str | None]]:
        ext, dom = set(external_ids), set(domains)
        found = [
            (aid, self.external_id_of.get(aid), view.domain)
            for aid, view in self.view_of.items()
            if self.external_id_of.get(aid) in ext or view.domain in dom
        ]
        live = [(a, e, d) for a, e, d in found if a not in self.merged_into]
        kept = [(self.merged_into[a], None, d) for a, _, d in found if a in self.merged_into and d]
        missing = {a for a, _, _ in kept} - {a for a, _, _ in live}
        live += [(a, self.external_id_of.get(a), self.view_of[a].domain) for a in sorted(missing)]
        return [*live, *kept]

    async def retire(self, merges: Sequence[AccountMerge], now: datetime) -> None:
        for m in merges:
            before = self.view_of.get(m.loser) or AccountView(m.loser, domain=m.domain)
            self.view_of[m.loser] = replace(before, stage="merged", domain=m.domain)
            self.merged_into[m.loser] = m.winner
            self.state_of.pop(m.loser, None)
            self.history[:] = [
                (replace(t, subject_key=m.winner), v)
                if t.subject_kind == "account" and t.subject_key == m.loser else (t, v)
                for t, v in self.history
            ]  # fmt: skip
            for cid, view in self.contact_views.items():
                if view.account_id == m.loser:
                    self.contact_views[cid] = replace(view, account_id=m.winner)
            for tid, row in self.touch_rows.items():
                if row.touch.account_id == m.loser:
                    self.touch_rows[tid] = replace(
                        row, touch=replace(row.touch, account_id=m.winner)
                    )
            for rid, note in self.reminder_notes.items():
                if note.account_id == m.loser:
                    self.reminder_notes[rid] = replace(note, account_id=m.winner)

    async def states(self, ids: Iterable[str]) -> dict[str, AccountState]:
        return {i: self.state_of[i] for i in ids if i in self.state_of}

    async def save(
        self, states: Mapping[str, AccountState], identity: Mapping[str, KnownIdentity],
        now: datetime,
    ) -> None:  # fmt: skip
        for aid, s in states.items():
            if aid in self.merged_into:  # merged away: stays so, as in SQL
                continue
            known = identity.get(aid) or KnownIdentity()
            before = self.view_of.get(aid)
            self.state_of[aid] = s
            if before is None:  # traits are taken when the account is first stored
                before = AccountView(aid, traits=dict(known.traits), domain=known.domain)
                self.external_id_of[aid] = known.external_id
            self.external_id_of[aid] = self.external_id_of.get(aid) or known.external_id
            self.view_of[aid] = replace(before, stage=str(s.stage or "awareness"),
                                        domain=before.domain or known.domain)  # fmt: skip

    async def views(self, ids: Iterable[str]) -> dict[str, AccountView]:
        return {i: self.view_of[i] for i in ids if i in self.view_of}

    async def set_owners(self, owners: Mapping[str, str], *, if_unowned: bool) -> None:
        _set_owners(self.view_of, owners, if_unowned)

    async def owned_counts(self, reps: Sequence[str]) -> Counter[str]:
        wanted = set(reps)
        return Counter(v.owner_rep for v in self.view_of.values() if v.owner_rep in wanted)


class MemoryConsent:
    def __init__(self) -> None:
        self.ledger_of: dict[str, ConsentLedger] = {}
        self.rows: list[LedgerRow] = []

    async def ledgers(self, contact_ids: Iterable[str]) -> dict[str, ConsentLedger]:
        return {c: self.ledger_of.get(c) or ConsentLedger() for c in contact_ids}

    async def record(self, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
        written = admit_rows(await self.ledgers({r.item.contact_id for r in rows}), rows)
        for row in written:
            cid = row.item.contact_id
            self.ledger_of[cid] = (self.ledger_of.get(cid) or ConsentLedger()).with_item(row.item)
        self.rows += written
        return written


class MemoryDecisions:
    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []
        self.entries: list[LogEntry] = []

    async def log(self, records: Sequence[DecisionRecord]) -> None:
        self.records += records

    async def log_entries(self, entries: Sequence[LogEntry]) -> None:
        self.entries += entries

    async def pricing_views(
        self, account_ids: Iterable[str], since: datetime
    ) -> list[tuple[str, str, str]]:
        wanted = set(account_ids)
        return [
            (r.account_id, r.contact_id, r.event_id or "")
            for r in self.records
            if r.kind == TouchDecision.PRICING_VIEWED and r.account_id in wanted
            and r.contact_id is not None and r.decided_at > since
        ]  # fmt: skip

    async def account_pauses(self, account_ids: Iterable[str], since: datetime) -> list[PauseMark]:
        wanted = set(account_ids)
        return [
            pause_mark(r.account_id, r.contact_id, r.event_id, str(r.kind), r.facts, r.decided_at)
            for r in self.records
            if r.kind in (PAUSED, RESUMED) and r.account_id in wanted and r.decided_at > since
        ]


class MemoryUnitOfWork:
    """All repositories in dictionaries; one instance is one whole (simulated) database."""

    def __init__(self) -> None:
        self.inbox = MemoryInbox()
        self.contacts = MemoryContacts()
        self.touches = MemoryTouches()
        self.reminders = MemoryReminders()
        self.accounts = MemoryAccounts(
            history=self.contacts.history, contact_views=self.contacts.view_of,
            touch_rows=self.touches.rows, reminder_notes=self.reminders.stored,
        )  # fmt: skip
        self.consent = MemoryConsent()
        self.decisions = MemoryDecisions()
        self.revenue = MemoryRevenue()
        self.value_watches = MemoryValueWatches()
        self.handoffs = MemoryHandoffs()


_View = TypeVar("_View", ContactView, AccountView)


def _set_owners(view_of: dict[str, _View], owners: Mapping[str, str], if_unowned: bool) -> None:
    """Contacts and accounts alike: each view takes its owner (``if_unowned``: only if none)."""
    for key, rep in owners.items():
        view = view_of.get(key)
        if view is not None and not (if_unowned and view.owner_rep is not None):
            view_of[key] = replace(view, owner_rep=rep)
