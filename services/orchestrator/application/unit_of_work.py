"""The unit of work and its repositories, one per noun, as the handlers see them.

Handlers (``application.*``) only ever talk to these protocols: the live orchestrator passes
``adapters.sql_uow.SqlUnitOfWork`` (one transaction, today's bulk SQL inside), ``trellis
simulate`` and the handler unit tests pass ``adapters.memory_uow.MemoryUnitOfWork``. Whatever
crosses this line is typed: domain states, views and the records below, never table rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.events import EngagementEvent
from services.orchestrator.domain.account_plays import PauseMark
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger, LedgerRow
from services.orchestrator.domain.handoffs import Handoff, TeamOwner
from services.orchestrator.domain.identity import AccountMerge, KnownIdentity
from services.orchestrator.domain.kpis import RevenueFact
from services.orchestrator.domain.planner import ExistingTouch
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.state import (
    AccountState,
    ContactState,
    LogEntry,
    Redated,
    Transition,
)
from services.orchestrator.domain.value_watch import ValueWatch
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch

PLANNED, DISPATCHED, SKIPPED = "planned", "dispatched", "skipped"


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A message id and where it came from: claimed once, so it applies once."""

    event_id: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class NewTouch:
    """A touch to store as ``planned``; an id already stored is left as it is."""

    id: str
    contact_id: str
    account_id: str | None
    channel: TouchChannel
    template: str
    stage: str
    step: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Revived:
    """A cancelled touch planned again under its own id."""

    id: str
    stage: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Moved:
    """A planned touch due at another time (an account pause and its end), with why."""

    id: str
    due_at: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class NewReminder:
    id: str
    rep: str
    contact_id: str
    account_id: str | None
    reason: str
    evidence: tuple[object, ...]  # the story in words (or, before it, the event ids)
    talking_points: tuple[str, ...]
    due_at: datetime

    def touch(self, channel: TouchChannel, stage: str) -> NewTouch:
        """The touch that delivers this reminder: its id, its reason's template, due with it."""
        return NewTouch(self.id, self.contact_id, self.account_id, channel,
                        f"reminders/{self.reason}", stage, f"reminder/{self.reason}",
                        self.due_at)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finished:
    """A claimed touch's end of round: dispatched, skipped, or back to planned at ``due_at``."""

    touch_id: str
    status: str
    reason: Reason
    due_at: datetime | None = None


class Inbox(Protocol):
    async def claim(self, entries: Sequence[InboxEntry], now: datetime) -> set[str]: ...


class Contacts(Protocol):
    async def aliases(self, aliases: Iterable[str]) -> dict[str, str]: ...
    async def save_aliases(
        self, new: Mapping[str, str], moved: Mapping[str, str], now: datetime
    ) -> None: ...
    async def states(self, ids: Iterable[str]) -> dict[str, ContactState]: ...
    async def save(
        self,
        states: Mapping[str, ContactState],
        identity: Mapping[str, KnownIdentity],
        now: datetime,
    ) -> None: ...
    async def retire(self, losers: Iterable[str], now: datetime) -> None: ...
    async def of_accounts(self, account_ids: Iterable[str]) -> dict[str, ContactState]:
        """The states of the accounts' contacts (merged-away contacts left out)."""

    async def add_history(self, transitions: Sequence[Transition], version: str) -> None: ...
    async def redate_history(self, moves: Sequence[Redated]) -> None: ...
    async def views(self, ids: Iterable[str]) -> dict[str, ContactView]: ...
    async def set_owners(self, owners: Mapping[str, str], *, if_unowned: bool) -> None:
        """contact -> its owner rep, in one write (``if_unowned``: only where it has none)."""

    async def by_phone(self, phones: Iterable[str]) -> dict[str, list[str]]: ...


class Accounts(Protocol):
    async def known(
        self, external_ids: Iterable[str], domains: Iterable[str]
    ) -> list[tuple[str, str | None, str | None]]:
        """(id, external id, domain) of the accounts known by any of them; a domain a
        merged-away account kept is reported as the survivor's (which is reported too)."""

    async def retire(self, merges: Sequence[AccountMerge], now: datetime) -> None:
        """Merged-away accounts: marked ``merged``, their state dropped, their stage history
        moved to the survivor; a domain the survivor takes is cleared, else kept (a row is
        written for a loser never stored)."""

    async def states(self, ids: Iterable[str]) -> dict[str, AccountState]: ...
    async def save(
        self,
        states: Mapping[str, AccountState],
        identity: Mapping[str, KnownIdentity],
        now: datetime,
    ) -> None: ...
    async def views(self, ids: Iterable[str]) -> dict[str, AccountView]: ...
    async def set_owners(self, owners: Mapping[str, str], *, if_unowned: bool) -> None:
        """account -> its owner rep, in one write (``if_unowned``: only where it has none)."""

    async def owned_counts(self, reps: Sequence[str]) -> Counter[str]: ...


class Touches(Protocol):
    async def existing(self, contact_ids: Iterable[str]) -> dict[str, list[ExistingTouch]]: ...
    async def add(self, touches: Sequence[NewTouch], now: datetime) -> None: ...
    async def revive(self, revived: Sequence[Revived]) -> None: ...
    async def cancel(self, cancels: Sequence[tuple[str, str]]) -> None:
        """(touch id, reason): planned ones become skipped; others stay as they are."""

    async def skip_sequence(
        self, sequence_id: str, contact_ids: Sequence[str], reason: str
    ) -> list[tuple[str, str, str | None]]: ...
    async def claim_due(self, me: str, now: datetime, limit: int) -> list[StoredTouch]: ...
    async def lock(self, keys: Iterable[str]) -> None: ...
    async def sent_since(
        self, contact_ids: Iterable[str], account_ids: Iterable[str], since: datetime
    ) -> list[SentTouch]: ...
    async def finish(self, results: Sequence[Finished], me: str, now: datetime) -> None: ...
    async def by_ids(self, ids: Iterable[str]) -> dict[str, StoredTouch]: ...
    async def set_statuses(self, statuses: Mapping[str, str]) -> None: ...
    async def planned_at(self, account_ids: Iterable[str]) -> list[tuple[StoredTouch, str | None]]:
        """The accounts' planned touches, each with its stored reason, in id order."""

    async def move(self, moves: Sequence[Moved]) -> None:
        """Planned ones get the new ``due_at`` and reason; others stay as they are."""


class Reminders(Protocol):
    async def recent(self, contact_ids: Iterable[str], since: datetime) -> set[tuple[str, str]]: ...
    async def add(self, reminders: Sequence[NewReminder], now: datetime) -> None: ...
    async def notes(self, ids: Iterable[str]) -> dict[str, ReminderNote]: ...
    async def woken(self, now: datetime) -> list[ReminderNote]: ...
    async def expiring(self, stale: datetime) -> list[ReminderNote]: ...
    async def set_status(self, ids: Sequence[str], status: str, now: datetime) -> None: ...


class Consent(Protocol):
    async def ledgers(self, contact_ids: Iterable[str]) -> dict[str, ConsentLedger]: ...
    async def record(self, rows: Sequence[LedgerRow]) -> list[LedgerRow]: ...


class Decisions(Protocol):
    async def log(self, records: Sequence[DecisionRecord]) -> None: ...
    async def log_entries(self, entries: Sequence[LogEntry]) -> None: ...
    async def pricing_views(
        self, account_ids: Iterable[str], since: datetime
    ) -> list[tuple[str, str, str]]: ...
    async def account_pauses(self, account_ids: Iterable[str], since: datetime) -> list[PauseMark]:
        """The accounts' ``account_paused`` / ``account_resumed`` records decided after since."""


class Revenue(Protocol):
    """The business facts the KPIs need (deal amounts and stages, seats, NPS answers)."""

    async def record(
        self,
        events: Sequence[EngagementEvent],
        contact_of: Mapping[str, str],
        account_of: Mapping[str, str | None],
    ) -> int:
        """Keep the revenue events among ``events`` (event id -> its contact and account)."""

    async def facts(self, until: datetime) -> list[RevenueFact]: ...


class Handoffs(Protocol):
    """Owners per team and handoffs between teams (``domain.handoffs``)."""

    async def owners(self, account_ids: Iterable[str]) -> dict[tuple[str, str], TeamOwner]:
        """(account, team) -> its owner there now (with the one before)."""

    async def set_owners(self, owners: Sequence[TeamOwner]) -> None: ...
    async def owned_counts(self, team: str) -> Counter[str]: ...
    async def add(self, handoffs: Sequence[Handoff]) -> list[Handoff]:
        """Store the handoffs whose id is new; returns those (one per account, kind, episode)."""

    async def open_at(self, account_ids: Iterable[str]) -> list[Handoff]: ...
    async def recent(self, account_ids: Iterable[str], since: datetime) -> list[Handoff]:
        """The accounts' handoffs that are open or were made after ``since``."""

    async def by_reminder(self, reminder_id: str) -> list[Handoff]:
        """The open handoffs this reminder announced."""

    async def due(self, now: datetime) -> list[Handoff]:
        """Open handoffs with a clock step due: deadline passed unbreached, or escalation time
        passed unescalated."""

    async def save(self, handoffs: Sequence[Handoff]) -> None:
        """Their times and escalation target, as given."""


class ValueWatches(Protocol):
    """The time-to-value watch per account (``domain.value_watch``) and when to look again."""

    async def load(self, account_ids: Iterable[str]) -> dict[str, ValueWatch]: ...
    async def due(self, now: datetime, limit: int) -> list[ValueWatch]:
        """Watches whose next check has come, earliest first."""

    async def save(
        self, checked: Sequence[tuple[ValueWatch, datetime | None]], now: datetime
    ) -> None:
        """Each watch with when the clock must look at it again (None: only on events)."""

    async def retire(self, account_ids: Sequence[str]) -> None:
        """Merged-away accounts' watches (folded into their survivors' first)."""


class UnitOfWork(Protocol):
    """One consistent change: everything a handler saves lands together, or nothing does."""

    @property
    def inbox(self) -> Inbox: ...
    @property
    def contacts(self) -> Contacts: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def touches(self) -> Touches: ...
    @property
    def reminders(self) -> Reminders: ...
    @property
    def consent(self) -> Consent: ...
    @property
    def decisions(self) -> Decisions: ...
    @property
    def revenue(self) -> Revenue: ...
    @property
    def handoffs(self) -> Handoffs: ...
    @property
    def value_watches(self) -> ValueWatches: ...
