"""The handoffs repository on SQL: ``account_owners`` and ``handoffs`` (``handoff_tables``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.handoff_tables import account_owners, handoffs
from services.orchestrator.domain.handoffs import Handoff, HandoffKind, TeamOwner

_FIELDS = [f.name for f in fields(Handoff)]


def handoff_of(row: Mapping[Any, Any]) -> Handoff:
    return Handoff(**{k: row[k] for k in _FIELDS if k != "kind"}, kind=HandoffKind(row["kind"]))


def row_of(h: Handoff) -> dict[str, Any]:
    return asdict(h) | {"kind": h.kind.value}


class SqlHandoffs:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def owners(self, account_ids: Iterable[str]) -> dict[tuple[str, str], TeamOwner]:
        wanted = sorted(set(account_ids))
        if not wanted:
            return {}
        rows = await self.conn.execute(
            select(account_owners).where(account_owners.c.account_id.in_(wanted))
        )
        return {(r.account_id, r.team): TeamOwner(**r._mapping) for r in rows}

    async def set_owners(self, owners: Sequence[TeamOwner]) -> None:
        for o in owners:
            values = asdict(o)
            done = await self.conn.execute(
                update(account_owners)
                .where(account_owners.c.account_id == o.account_id, account_owners.c.team == o.team)
                .values(values)
            )
            if not done.rowcount:
                await self.conn.execute(insert(account_owners).values(values))

    async def owned_counts(self, team: str) -> Counter[str]:
        rows = await self.conn.execute(
            select(account_owners.c.owner, func.count())
            .where(account_owners.c.team == team)
            .group_by(account_owners.c.owner)
        )
        return Counter({owner: n for owner, n in rows})

    async def add(self, new: Sequence[Handoff]) -> list[Handoff]:
        if not new:
            return []
        ids = [h.id for h in new]
        known = set(
            (await self.conn.execute(select(handoffs.c.id).where(handoffs.c.id.in_(ids)))).scalars()
        )
        fresh = list({h.id: h for h in new if h.id not in known}.values())
        if fresh:
            await self.conn.execute(insert(handoffs), [row_of(h) for h in fresh])
        return fresh

    async def open_at(self, account_ids: Iterable[str]) -> list[Handoff]:
        wanted = sorted(set(account_ids))
        if not wanted:
            return []
        return await self._where(
            handoffs.c.account_id.in_(wanted), handoffs.c.completed_at.is_(None)
        )

    async def recent(self, account_ids: Iterable[str], since: datetime) -> list[Handoff]:
        wanted = sorted(set(account_ids))
        if not wanted:
            return []
        fresh = or_(handoffs.c.completed_at.is_(None), handoffs.c.created_at > since)
        return await self._where(handoffs.c.account_id.in_(wanted), fresh)

    async def by_reminder(self, reminder_id: str) -> list[Handoff]:
        return await self._where(
            handoffs.c.reminder_id == reminder_id, handoffs.c.completed_at.is_(None)
        )

    async def due(self, now: datetime) -> list[Handoff]:
        return await self._where(
            handoffs.c.completed_at.is_(None),
            handoffs.c.deadline_at <= now,  # the open-handoffs index
            or_(
                handoffs.c.breached_at.is_(None),
                and_(handoffs.c.escalated_at.is_(None), handoffs.c.escalate_at <= now),
            ),
        )

    async def save(self, changed: Sequence[Handoff]) -> None:
        for h in changed:
            await self.conn.execute(update(handoffs).where(handoffs.c.id == h.id).values(row_of(h)))

    async def _where(self, *criteria: Any) -> list[Handoff]:
        rows = await self.conn.execute(
            select(handoffs).where(*criteria).order_by(handoffs.c.created_at, handoffs.c.id)
        )
        return [handoff_of(r._mapping) for r in rows]
