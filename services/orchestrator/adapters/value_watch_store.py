"""The time-to-value watch's table and its SQL repository (``uow.value_watches``).

One row per account with a watch: its state document (``domain.value_watch.to_dict``), the time
the reminder clock must look at it again (``next_check_at``, indexed: a clock pass reads only
the due rows, not every customer), and the three times the "time to first value" KPI needs as
columns of their own.

Why a table and not a read of what is stored already: ``revenue_facts`` keeps closed-won,
seats and NPS, but not activations, usage or tickets, and "no activation by day 14" fires on
an absence, so the clock needs an indexed "look again at" time per account; re-deriving usage
per day from the decision log on every pass would read far more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import JSON, Column, Index, String, Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.domain.time_to_value import TimeToValue, days_between
from services.orchestrator.domain.value_watch import ValueWatch, from_dict, to_dict
from trellis.db import UtcDateTime, metadata

TZ = UtcDateTime()

value_watches = Table(
    "value_watches",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("next_check_at", TZ, comment="the reminder clock looks again then (none: on events)"),
    Column("won_at", TZ),
    Column("activated_at", TZ),
    Column("first_milestone_at", TZ),
    Column("updated_at", TZ, nullable=False),
    Index("ix_value_watches_next_check_at", "next_check_at"),
    comment="The time-to-value watch per account (domain.value_watch, domain.churn_risk).",
)

Checked = tuple[ValueWatch, datetime | None]
"""A watch with the time the clock must look at it again."""


def _row(w: ValueWatch, next_at: datetime | None, now: datetime) -> dict[str, object]:
    return {
        "account_id": w.account_id, "state": to_dict(w), "next_check_at": next_at,
        "won_at": w.won_at, "activated_at": w.activated_at,
        "first_milestone_at": w.first_milestone_at, "updated_at": now,
    }  # fmt: skip


class SqlValueWatches:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def _pg(self) -> bool:
        return self.conn.dialect.name == "postgresql"

    async def load(self, account_ids: Iterable[str]) -> dict[str, ValueWatch]:
        """The accounts' watches, locked on PostgreSQL until the transaction ends (a clock pass
        of another instance waits rather than writing over this batch)."""
        wanted = sorted(set(account_ids))
        if not wanted:
            return {}
        t = value_watches.c
        query = select(t.account_id, t.state).where(t.account_id.in_(wanted))
        if self._pg:
            query = query.with_for_update()
        rows = await self.conn.execute(query.order_by(t.account_id))
        return {aid: from_dict(aid, state) for aid, state in rows}

    async def due(self, now: datetime, limit: int) -> list[ValueWatch]:
        """Watches to look at by ``now`` (skipping those another instance holds)."""
        t = value_watches.c
        query = (
            select(t.account_id, t.state)
            .where(t.next_check_at <= now)
            .order_by(t.next_check_at, t.account_id)
            .limit(limit)
        )
        if self._pg:
            query = query.with_for_update(skip_locked=True)
        return [from_dict(aid, state) for aid, state in await self.conn.execute(query)]

    async def save(self, checked: Sequence[Checked], now: datetime) -> None:
        if not checked:
            return
        rows = [_row(w, at, now) for w, at in checked]
        insert = (pg_insert if self._pg else sqlite_insert)(value_watches)
        keep = ("state", "next_check_at", "won_at", "activated_at", "first_milestone_at")
        stmt = insert.on_conflict_do_update(
            index_elements=["account_id"],
            set_={c: insert.excluded[c] for c in (*keep, "updated_at")},
        )
        await self.conn.execute(stmt, rows)

    async def retire(self, account_ids: Sequence[str]) -> None:
        if account_ids:
            await self.conn.execute(
                delete(value_watches).where(value_watches.c.account_id.in_(list(account_ids)))
            )


async def times_to_value(
    conn: AsyncConnection, won_since: datetime | None = None
) -> list[TimeToValue]:
    """Each won account's days to activation and to its first milestone (the KPI's "median time
    to first value per cohort" is ``median_days_by_cohort`` over these), from the columns."""
    t = value_watches.c
    query = select(t.account_id, t.won_at, t.activated_at, t.first_milestone_at).where(
        t.won_at.is_not(None)
    )
    if won_since is not None:
        query = query.where(t.won_at >= won_since)
    rows = await conn.execute(query.order_by(t.account_id))
    return [
        TimeToValue(aid, won, days_between(won, act), days_between(won, first))
        for aid, won, act, first in rows
    ]
