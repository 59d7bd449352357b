"""The unit of work on SQL: one transaction, one repository per noun, today's bulk statements
inside (``repository``, ``touch_store``, ``consent_store``, ``decision_log``, ``inbox``).

``SqlUnitOfWork.begin(engine)`` opens the transaction and commits when the block ends without
an error (rolls back otherwise); ``SqlUnitOfWork(conn)`` joins a transaction the caller holds
(the ops API's routes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters import (
    account_merges,
    bulk,
    consent_store,
    decision_log,
    inbox,
    revenue_store,
)
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.history_redate import redate_history
from services.orchestrator.adapters.sql_handoffs import SqlHandoffs
from services.orchestrator.adapters.sql_touches import SqlReminders, SqlTouches
from services.orchestrator.adapters.tables import accounts, contacts, decisions
from services.orchestrator.adapters.value_watch_store import SqlValueWatches
from services.orchestrator.application.unit_of_work import (
    InboxEntry,
)
from services.orchestrator.domain.account_plays import PAUSED, RESUMED, PauseMark, pause_mark
from services.orchestrator.domain.consent import ConsentLedger, LedgerRow
from services.orchestrator.domain.identity import AccountMerge, KnownIdentity
from services.orchestrator.domain.kpis import RevenueFact
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.state import (
    AccountState,
    ContactState,
    LogEntry,
    Redated,
    Transition,
)
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.views import AccountView, ContactView


class _Saved:
    """Contact and account rows as this unit of work's upserts returned them (PostgreSQL: the
    columns views read), so the batch's views after its save need no statement. The upsert
    locked those rows until the commit, so a select would read the same; a row this unit of
    work writes otherwise is forgotten."""

    def __init__(self) -> None:
        self.contacts: dict[str, repo.ViewRow] = {}
        self.accounts: dict[str, repo.ViewRow] = {}


class _Part:
    def __init__(
        self, conn: AsyncConnection, caches: repo.StateCaches, saved: _Saved | None = None
    ) -> None:
        self.conn, self.caches = conn, caches
        self.saved = saved or _Saved()


class SqlInbox(_Part):
    async def claim(self, entries: Sequence[InboxEntry], now: datetime) -> set[str]:
        return await inbox.claim(self.conn, entries, now)


def _without_state(table: Any) -> list[Any]:
    """Every column but the lifecycle ``state`` document: views never read it, and decoding
    it was most of what loading recipients cost."""
    return [c for c in table.c if c.name != "state"]


# Statements run every batch, built once per backend (``bulk.in_ids``).


@cache
def _views_of(table: Any, postgresql: bool) -> Select[Any]:
    return select(*_without_state(table)).where(bulk.in_ids(table.c.id, postgresql))


@cache
def _pricing_views(postgresql: bool) -> Select[Any]:
    d = decisions.c
    return select(d.account_id, d.contact_id, d.event_id).where(
        d.kind == bindparam("kind"), bulk.in_ids(d.account_id, postgresql),
        d.decided_at > bindparam("since"),
    )  # fmt: skip


@cache
def _account_pauses(postgresql: bool) -> Select[Any]:
    d = decisions.c
    return (
        select(d.account_id, d.contact_id, d.event_id, d.kind, d.facts, d.decided_at)
        .where(d.kind.in_([PAUSED, RESUMED]), bulk.in_ids(d.account_id, postgresql),
               d.decided_at > bindparam("since"))
        .order_by(d.id)
    )  # fmt: skip


class SqlContacts(_Part):
    async def aliases(self, aliases: Iterable[str]) -> dict[str, str]:
        return await repo.known_aliases(self.conn, aliases)

    async def save_aliases(
        self, new: Mapping[str, str], moved: Mapping[str, str], now: datetime
    ) -> None:
        await repo.save_aliases(self.conn, new, moved, now)

    async def states(self, ids: Iterable[str]) -> dict[str, ContactState]:
        return await repo.load_contacts(self.conn, ids, self.caches.contacts)

    async def save(
        self, states: Mapping[str, ContactState], identity: Mapping[str, KnownIdentity],
        now: datetime,
    ) -> None:  # fmt: skip
        rows = await repo.save_contacts(self.conn, states, identity, now, self.caches.contacts)
        self.saved.contacts.update({r[0]: r for r in rows})

    async def retire(self, losers: Iterable[str], now: datetime) -> None:
        """Merged-away contacts give up their unique identifiers to the survivor (one
        statement for the batch's)."""
        gone = sorted(set(losers))
        for loser in gone:
            self.saved.contacts.pop(loser, None)
        if gone:
            await self.conn.execute(
                update(contacts)
                .where(bulk.one_of(self.conn, contacts.c.id, gone))
                .values(email=None, external_id=None, stage="merged", updated_at=now)
            )

    async def of_accounts(self, account_ids: Iterable[str]) -> dict[str, ContactState]:
        return await account_merges.of_accounts(self.conn, account_ids, self.caches.contacts)

    async def add_history(self, transitions: Sequence[Transition], version: str) -> None:
        await repo.add_history(self.conn, transitions, version)

    async def redate_history(self, moves: Sequence[Redated]) -> None:
        await redate_history(self.conn, moves)

    async def views(self, ids: Iterable[str]) -> dict[str, ContactView]:
        wanted = sorted(set(ids))
        saved = self.saved.contacts
        found = {i: repo.contact_view(saved[i]) for i in wanted if i in saved}
        rest = [i for i in wanted if i not in found]
        if rest:
            stmt = _views_of(contacts, bulk.is_postgresql(self.conn))
            rows = await self.conn.execute(stmt, bulk.ids(self.conn, rest))
            found.update({r["id"]: ContactView.from_row(r) for r in rows.mappings()})
        return found

    async def set_owners(self, owners: Mapping[str, str], *, if_unowned: bool) -> None:
        await _set_owners(self.conn, contacts, owners, self.saved.contacts, if_unowned)

    async def by_phone(self, phones: Iterable[str]) -> dict[str, list[str]]:
        phone = contacts.c.traits["phone"].as_string()
        found = await self.conn.execute(
            select(phone, contacts.c.id).where(phone.in_(sorted(phones))).order_by(contacts.c.id)
        )
        owners: dict[str, list[str]] = {}
        for number, cid in found:
            owners.setdefault(number, []).append(cid)
        return owners


class SqlAccounts(_Part):
    async def known(
        self, external_ids: Iterable[str], domains: Iterable[str]
    ) -> list[tuple[str, str | None, str | None]]:
        return await repo.known_accounts(self.conn, external_ids, domains)

    async def retire(self, merges: Sequence[AccountMerge], now: datetime) -> None:
        self.saved.contacts.clear()  # their people move to the survivors
        self.saved.accounts.clear()
        await account_merges.retire(self.conn, merges, now)

    async def states(self, ids: Iterable[str]) -> dict[str, AccountState]:
        return await repo.load_accounts(self.conn, ids, self.caches.accounts)

    async def save(
        self, states: Mapping[str, AccountState], identity: Mapping[str, KnownIdentity],
        now: datetime,
    ) -> None:  # fmt: skip
        rows = await repo.save_accounts(self.conn, states, identity, now, self.caches.accounts)
        self.saved.accounts.update({r[0]: r for r in rows})

    async def views(self, ids: Iterable[str]) -> dict[str, AccountView]:
        wanted = sorted({i for i in ids if i})
        saved = self.saved.accounts
        found = {i: repo.account_view(saved[i]) for i in wanted if i in saved}
        rest = [i for i in wanted if i not in found]
        if rest:
            stmt = _views_of(accounts, bulk.is_postgresql(self.conn))
            rows = await self.conn.execute(stmt, bulk.ids(self.conn, rest))
            found.update({r["id"]: AccountView.from_row(r) for r in rows.mappings()})
        return found

    async def set_owners(self, owners: Mapping[str, str], *, if_unowned: bool) -> None:
        await _set_owners(self.conn, accounts, owners, self.saved.accounts, if_unowned)

    async def owned_counts(self, reps: Sequence[str]) -> Counter[str]:
        rows = await self.conn.execute(
            select(accounts.c.owner_rep, func.count())
            .where(accounts.c.owner_rep.in_(list(reps)))
            .group_by(accounts.c.owner_rep)
        )
        return Counter({rep: int(n) for rep, n in rows})


class SqlConsent(_Part):
    async def ledgers(self, contact_ids: Iterable[str]) -> dict[str, ConsentLedger]:
        return await consent_store.load(self.conn, contact_ids)

    async def record(self, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
        return await consent_store.record(self.conn, rows)


class SqlDecisions(_Part):
    pending: decision_log.Pending | None = None  # set by ``begin``: inserted once, at commit

    async def log(self, records: Sequence[DecisionRecord]) -> None:
        await self._add(decision_log.record_rows(records))

    async def log_entries(self, entries: Sequence[LogEntry]) -> None:
        await self._add(decision_log.entry_rows(entries))

    async def _add(self, rows: list[decision_log.Row]) -> None:
        if self.pending is None:
            await decision_log.insert(self.conn, rows)
        else:
            self.pending.rows += rows

    def _unsaved(
        self, kinds: Sequence[str], wanted: list[str], since: datetime
    ) -> list[decision_log.Row]:
        return self.pending.where(kinds, wanted, since) if self.pending else []

    async def pricing_views(
        self, account_ids: Iterable[str], since: datetime
    ) -> list[tuple[str, str, str]]:
        wanted, kind = sorted(set(account_ids)), TouchDecision.PRICING_VIEWED.value
        rows = await self.conn.execute(
            _pricing_views(bulk.is_postgresql(self.conn)),
            {"kind": kind, **bulk.ids(self.conn, wanted), "since": since},
        )
        unsaved = [(r.account_id, r.contact_id, r.event_id)
                   for r in self._unsaved([kind], wanted, since)]  # fmt: skip
        return [(aid, cid, eid or "") for aid, cid, eid in [*rows, *unsaved]]

    async def account_pauses(self, account_ids: Iterable[str], since: datetime) -> list[PauseMark]:
        wanted = sorted(set(account_ids))
        if not wanted:
            return []
        rows = await self.conn.execute(
            _account_pauses(bulk.is_postgresql(self.conn)),
            {**bulk.ids(self.conn, wanted), "since": since},
        )
        unsaved = [(r.account_id, r.contact_id, r.event_id, r.kind, r.facts, r.decided_at)
                   for r in self._unsaved([PAUSED, RESUMED], wanted, since)]  # fmt: skip
        return [pause_mark(aid, cid, eid, kind, facts or {}, at)
                for aid, cid, eid, kind, facts, at in [*rows, *unsaved]]  # fmt: skip


class SqlRevenue(_Part):
    async def record(
        self,
        events: Sequence[EngagementEvent],
        contact_of: Mapping[str, str],
        account_of: Mapping[str, str | None],
    ) -> int:
        return await revenue_store.record(self.conn, events, contact_of, account_of)

    async def facts(self, until: datetime) -> list[RevenueFact]:
        return await revenue_store.load(self.conn, until)


class SqlUnitOfWork:
    """The repositories over one connection in one transaction."""

    def __init__(self, conn: AsyncConnection, caches: repo.StateCaches | None = None) -> None:
        caches = caches or repo.StateCaches()
        saved = _Saved()
        self.conn = conn
        self.inbox = SqlInbox(conn, caches)
        self.contacts = SqlContacts(conn, caches, saved)
        self.accounts = SqlAccounts(conn, caches, saved)
        self.touches = SqlTouches(conn)
        self.reminders = SqlReminders(conn)
        self.consent = SqlConsent(conn, caches)
        self.decisions = SqlDecisions(conn, caches)
        self.revenue = SqlRevenue(conn, caches)
        self.handoffs = SqlHandoffs(conn)
        self.value_watches = SqlValueWatches(conn)

    @classmethod
    @asynccontextmanager
    async def begin(
        cls, engine: AsyncEngine, caches: repo.StateCaches | None = None
    ) -> AsyncIterator[SqlUnitOfWork]:
        """A new transaction: committed when the block ends, rolled back if it raises."""
        async with engine.begin() as conn:
            uow = cls(conn, caches)
            uow.decisions.pending = pending = decision_log.Pending()
            yield uow
            await pending.flush(conn)  # the batch's decisions: one insert, before the commit


_OWNER_ID, _OWNER_REP = "b_owned", "b_owner"


async def _set_owners(
    conn: AsyncConnection,
    table: Table,
    owners: Mapping[str, str],
    saved: dict[str, Any],
    if_unowned: bool,
) -> None:
    """One executemany (the driver sends it in one round trip), not an UPDATE per row: a
    dispatch round can hand a whole batch of pool reminders to reps."""
    if not owners:
        return
    for key in owners:
        saved.pop(key, None)  # the views read after this see the stored owner
    where = [table.c.id == bindparam(_OWNER_ID)]
    if if_unowned:
        where.append(table.c.owner_rep.is_(None))
    await conn.execute(
        update(table).where(*where).values(owner_rep=bindparam(_OWNER_REP)),
        [{_OWNER_ID: key, _OWNER_REP: rep} for key, rep in sorted(owners.items())],
    )
