"""The rep pool: a contact (and its account) without an owner gets the pool rep who owns the
fewest accounts, and keeps that rep: ``owner_rep`` is stored on the account and the contact, so
every later reminder goes to the same person and the ops API shows who it is.

Least-loaded, not a rotating pointer: it needs no shared counter between orchestrator instances,
and over any run of new accounts it deals them out evenly (ties go to the pool's order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.views import AccountView, ContactView

POOL_ASSIGNED = "POOL_ASSIGNED"


def least_loaded(pool: Sequence[str], load: Counter[str]) -> str:
    """The pool member with the fewest owned accounts; ties: the first in the pool."""
    return min(pool, key=lambda rep: (load[rep], pool.index(rep)))


async def _load(conn: AsyncConnection, pool: Sequence[str]) -> Counter[str]:
    rows = await conn.execute(
        select(accounts.c.owner_rep, func.count())
        .where(accounts.c.owner_rep.in_(list(pool)))
        .group_by(accounts.c.owner_rep)
    )
    return Counter({rep: int(n) for rep, n in rows})


async def assign_owners(
    conn: AsyncConnection,
    people: MutableMapping[str, ContactView],
    accs: MutableMapping[str, AccountView],
    pool: Sequence[str],
    contact_ids: Iterable[str],
    now: datetime,
    log: list[DecisionRecord],
) -> None:
    """Give each of ``contact_ids`` without an owner (its own or its account's) a pool rep,
    stored, and put the owned views into ``people`` / ``accs`` so the caller's reads see it."""
    unowned = [
        cid
        for cid in sorted(set(contact_ids))
        if cid in people
        and not people[cid].owner_rep
        and not _owner(accs.get(people[cid].account_id or ""))
    ]
    if not pool or not unowned:
        return
    load = await _load(conn, pool)
    for cid in unowned:
        person = people[cid]
        aid = person.account_id
        account = accs.get(aid or "")
        rep = _owner(account) or least_loaded(pool, load)
        if account is not None and not account.owner_rep:
            accs[account.id] = replace(account, owner_rep=rep)
            load[rep] += 1
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == aid, accounts.c.owner_rep.is_(None))
                .values(owner_rep=rep)
            )
        people[cid] = replace(person, owner_rep=rep)
        await conn.execute(
            update(contacts)
            .where(contacts.c.id == cid, contacts.c.owner_rep.is_(None))
            .values(owner_rep=rep)
        )
        log.append(
            DecisionRecord(
                contact_id=cid, account_id=aid, kind=TouchDecision.OWNER_CHANGED,
                reason=POOL_ASSIGNED, facts={"owner": rep, "pool_size": len(pool)},
                playbook_version="nurture", decided_at=now,
            )
        )  # fmt: skip


def _owner(account: AccountView | None) -> str | None:
    return account.owner_rep if account is not None else None
