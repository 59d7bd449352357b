"""The handoff board (issue 23, item 5): every open handoff with its clock, who owns it, which
team and kind, when it was made, its deadline and the time left or how long overdue; breaches
first (the longest overdue at the top), then the rest by the time they have left; under it the
handoff KPIs of the last 30 days per team and per owner (``ops.kpi_handoffs``, as the API). A
rep key sees the handoffs it owns and its own figures; ``team`` narrows the board to one team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.handoff_tables import handoffs
from services.orchestrator.adapters.sql_handoffs import handoff_of
from services.orchestrator.adapters.tables import accounts
from services.orchestrator.dashboard.ui import Ui, viewer
from services.orchestrator.domain.handoffs import Handoff
from services.orchestrator.ops.auth import Scope
from services.orchestrator.ops.kpi_handoffs import handoff_kpis_answer
from trellis.message_templates import account_label

BOARD_LIMIT = 500
KPI_WINDOW = timedelta(days=30)
KIND_WORDS = {
    "mql_accept": "MQL to accept",
    "sql_first_contact": "SQL to contact",
    "csm_kickoff": "customer kickoff",
}


def span_words(span: timedelta) -> str:
    """A duration as a rep reads it: ``2 d 3 h``, ``3 h 20 min``, ``12 min``."""
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One open handoff on the board with its clock as of ``now``."""

    handoff: Handoff
    account: str
    breached: bool
    clock: str  # "3 h 20 min left" | "overdue 1 d 2 h"

    @property
    def state(self) -> str:
        if self.handoff.escalated_at is not None:
            return "escalated"
        return "breached" if self.breached else "open"


def on_the_board(open_handoffs: list[tuple[Handoff, str]], now: datetime) -> list[BoardRow]:
    """Breaches first (deadline reached: the longest overdue first), then the open ones by the
    time left (the least first); the id breaks ties, so the order is stable."""
    rows = [
        BoardRow(h, label, now >= h.deadline_at,
                 f"overdue {span_words(now - h.deadline_at)}" if now >= h.deadline_at
                 else f"{span_words(h.deadline_at - now)} left")
        for h, label in open_handoffs
    ]  # fmt: skip
    return sorted(rows, key=lambda r: (not r.breached, r.handoff.deadline_at, r.handoff.id))


async def open_handoffs(
    conn: AsyncConnection, owner: str | None, team: str | None
) -> list[tuple[Handoff, str]]:
    """Open handoffs (the partial index on deadline), with their account's label."""
    query = (
        select(handoffs, accounts.c.name.label("account_name"), accounts.c.domain)
        .select_from(handoffs.outerjoin(accounts, accounts.c.id == handoffs.c.account_id))
        .where(handoffs.c.completed_at.is_(None))
        .order_by(handoffs.c.deadline_at, handoffs.c.id)
        .limit(BOARD_LIMIT)
    )
    if owner is not None:
        query = query.where(handoffs.c.owner == owner)
    if team:
        query = query.where(handoffs.c.team == team)
    return [
        (handoff_of(r), account_label(r["account_name"], r["domain"]))
        for r in (await conn.execute(query)).mappings()
    ]


def add_handoff_board(router: APIRouter, ui: Ui) -> None:
    @router.get("/handoffs")
    async def handoff_board(request: Request, team: str = "") -> Response:
        key = await viewer(ui, request)
        mine = key.rep if key.scope is Scope.REP else None
        now = ui.clock()
        async with ui.engine.connect() as conn:
            found = await open_handoffs(conn, mine, team or None)
            kpis = await handoff_kpis_answer(conn, now - KPI_WINDOW, now)
        rows = on_the_board(found, now)
        teams = [t for t in kpis["teams"] if mine is None and (not team or t["team"] == team)]
        owners = [o for o in kpis["owners"] if (mine is None or o["owner"] == mine)
                  and (not team or o["team"] == team)]  # fmt: skip
        return ui.page(
            request, "handoffs.html", key=key, rows=rows, team=team, kinds=KIND_WORDS,
            breaches=sum(1 for r in rows if r.breached), limit=BOARD_LIMIT, teams=teams,
            owners=owners, definitions=kpis["definitions"], kpi_days=KPI_WINDOW.days,
        )  # fmt: skip
