"""Account merges in SQL: the merged-away row, what moves to the survivor, and reading a domain
that a merged-away row kept as the survivor's.

A merged-away account stays as a row marked ``merged`` with ``merged_into`` (migration 0204):
it keeps its domain when the survivor already had one (the unique column holds one domain per
row), so that domain still finds the survivor. Its state document is emptied (never loaded
again); its stage history moves to the survivor, and so does the ``account_id`` of its revenue
facts, contacts, touches (the account's daily cap and pauses count them) and reminders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Text, cast, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.bulk import is_postgresql
from services.orchestrator.adapters.state_cache import StateCache
from services.orchestrator.adapters.tables import (
    accounts,
    contacts,
    reminders,
    revenue_facts,
    stage_history,
    touches,
)
from services.orchestrator.domain.identity import AccountMerge
from services.orchestrator.domain.state import ContactState

Stored = tuple[str, str | None, str | None, str | None]  # id, external id, domain, merged_into
MERGED = "merged"


async def follow(
    conn: AsyncConnection, rows: Sequence[Stored]
) -> list[tuple[str, str | None, str | None]]:
    """``rows`` as (id, external id, domain), a merged-away row's domain as its survivor's; the
    survivors are read too, so the resolver knows their external ids."""
    live = [(i, ext, dom) for i, ext, dom, into in rows if into is None]
    kept = [(into, None, dom) for _, _, dom, into in rows if into is not None and dom]
    missing = sorted({i for i, _, _ in kept} - {i for i, _, _ in live})
    if missing:
        cols = (accounts.c.id, accounts.c.external_id, accounts.c.domain)
        found = await conn.execute(select(*cols).where(accounts.c.id.in_(missing)))
        live += [(i, ext, dom) for i, ext, dom in found]
    return [*live, *kept]


async def retire(conn: AsyncConnection, merges: Sequence[AccountMerge], now: datetime) -> None:
    """Mark each loser merged (a row written for a loser never stored that keeps a domain) and
    move what names it to the survivor."""
    for m in merges:
        if m.domain is None:
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == m.loser)
                .values(domain=None, stage=MERGED, merged_into=m.winner, state={}, updated_at=now)
            )
        else:
            insert = pg_insert if is_postgresql(conn) else sqlite_insert
            row = insert(accounts).values(
                id=m.loser, domain=m.domain, stage=MERGED, score=0.0, fit=0.0, traits={},
                state={}, created_at=now, updated_at=now, merged_into=m.winner,
            )  # fmt: skip
            changed = {"stage": MERGED, "merged_into": m.winner, "state": {}, "updated_at": now}
            await conn.execute(row.on_conflict_do_update(index_elements=["id"], set_=changed))
        await conn.execute(
            update(stage_history)
            .where(stage_history.c.subject_kind == "account", stage_history.c.subject_id == m.loser)
            .values(subject_id=m.winner)
        )
        for table in (revenue_facts, contacts, touches, reminders):
            await conn.execute(
                update(table).where(table.c.account_id == m.loser).values(account_id=m.winner)
            )


async def of_accounts(
    conn: AsyncConnection, account_ids: Iterable[str], cache: StateCache[ContactState]
) -> dict[str, ContactState]:
    """The states of the accounts' contacts, merged-away contacts left out."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    rows = await conn.execute(
        select(contacts.c.id, cast(contacts.c.state, Text)).where(
            contacts.c.account_id.in_(wanted), contacts.c.stage != MERGED
        )
    )
    return {cid: cache.parse(cid, text) for cid, text in rows if text and text != "{}"}
