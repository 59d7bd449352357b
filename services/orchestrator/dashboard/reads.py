"""The few reads the dashboard needs that the ops API does not serve: stage history as funnel
moves (for the flow chart), an account's journey across its stakeholders, the reps with
reminders, and touches by id. Read-only, plain values."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.sql_handoffs import SqlHandoffs
from services.orchestrator.adapters.tables import (
    accounts,
    contacts,
    reminders,
    stage_history,
    touches,
)
from services.orchestrator.domain.funnel import Move
from services.orchestrator.domain.handoffs import Handoff, TeamOwner
from services.orchestrator.domain.stages import Stage
from trellis.message_templates import account_label

_KNOWN = Stage._value2member_map_


async def history_moves(
    conn: AsyncConnection, kind: str, until: datetime, account_id: str | None = None
) -> list[Move]:
    """Every stage move of ``kind`` ("contact" / "account") before ``until``."""
    h = stage_history.c
    query = select(h.subject_id, h.to_stage, h.occurred_at, h.id).where(
        h.subject_kind == kind, h.occurred_at < until
    )
    if account_id is not None:
        if kind == "account":
            query = query.where(h.subject_id == account_id)
        else:
            members = select(contacts.c.id).where(contacts.c.account_id == account_id)
            query = query.where(h.subject_id.in_(members))
    rows = await conn.execute(query)
    return [Move(s, Stage(to), at, seq) for s, to, at, seq in rows if to in _KNOWN]


async def account_journey(
    conn: AsyncConnection, account_id: str, limit: int = 500
) -> list[dict[str, Any]]:
    """Stage changes of the account and of each of its stakeholders, oldest first: the path
    from first visit to where the account is now."""
    h = stage_history.c
    members = select(contacts.c.id).where(contacts.c.account_id == account_id)
    query = (
        select(
            h.subject_kind, h.subject_id, h.from_stage, h.to_stage, h.reason, h.event_id,
            h.occurred_at, contacts.c.email, contacts.c.role,
        )
        .outerjoin(contacts, (h.subject_kind == "contact") & (contacts.c.id == h.subject_id))
        .where(
            ((h.subject_kind == "account") & (h.subject_id == account_id))
            | ((h.subject_kind == "contact") & h.subject_id.in_(members))
        )
        .order_by(h.occurred_at, h.id)
        .limit(limit)
    )  # fmt: skip
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def reps_with_reminders(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(select(reminders.c.rep).distinct().order_by(reminders.c.rep))
    return [r for (r,) in rows]


async def touches_by_id(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await conn.execute(select(touches).where(touches.c.id.in_(wanted)))
    return {r["id"]: dict(r) for r in rows.mappings()}


async def account_names(conn: AsyncConnection, ids: Iterable[str | None]) -> dict[str, str]:
    """account id -> the name a page shows (name, else domain, else 'an account without a
    name'), never the id."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = await conn.execute(
        select(accounts.c.id, accounts.c.name, accounts.c.domain).where(accounts.c.id.in_(wanted))
    )
    return {i: account_label(n, d) for i, n, d in rows}


async def account_owners(
    conn: AsyncConnection, account_id: str
) -> tuple[list[TeamOwner], list[Handoff]]:
    """The account's owner per team (with the one before) and its open handoffs, soonest
    deadline first: what the account page shows beside the sales owner (issue 23)."""
    store = SqlHandoffs(conn)
    owners = sorted((await store.owners([account_id])).values(), key=lambda o: o.team)
    recent = await store.recent([account_id], since=datetime(1970, 1, 1, tzinfo=UTC))
    return owners, sorted((h for h in recent if h.open), key=lambda h: h.deadline_at)
