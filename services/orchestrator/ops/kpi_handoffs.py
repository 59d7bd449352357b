"""Read side of the handoff KPIs (``GET /v1/funnel/handoffs``): the handoffs made inside the
window from the ``handoffs`` table and the customers won inside it from ``value_watches``,
shaped from the pure results of ``domain.handoff_kpis`` as plain dicts."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.handoff_tables import handoffs
from services.orchestrator.adapters.sql_handoffs import handoff_of
from services.orchestrator.adapters.value_watch_store import value_watches
from services.orchestrator.domain.handoff_kpis import (
    HANDOFF_KPI_DEFINITIONS,
    handoff_report,
    time_to_value_by_cohort,
)
from services.orchestrator.domain.handoffs import Handoff
from services.orchestrator.domain.time_to_value import TimeToValue, from_history
from services.orchestrator.domain.value_watch import ACTIVATED, MILESTONE, WON


async def handoffs_made(conn: AsyncConnection, since: datetime, until: datetime) -> list[Handoff]:
    """The handoffs created in [since, until), oldest first."""
    query = (
        select(handoffs)
        .where(handoffs.c.created_at >= since, handoffs.c.created_at < until)
        .order_by(handoffs.c.created_at, handoffs.c.id)
    )
    return [handoff_of(row) for row in (await conn.execute(query)).mappings()]


async def customers_won(
    conn: AsyncConnection, since: datetime, until: datetime
) -> list[TimeToValue]:
    """Time to value of the accounts first won in [since, until) (their watch keeps the times;
    an activation or milestone after ``until`` has not happened yet)."""
    query = select(
        value_watches.c.account_id, value_watches.c.won_at, value_watches.c.activated_at,
        value_watches.c.first_milestone_at,
    ).where(value_watches.c.won_at >= since, value_watches.c.won_at < until)  # fmt: skip
    history: list[tuple[str, str, datetime]] = []
    for account, won, activated, milestone in await conn.execute(query):
        history.append((account, WON, won))
        history += [(account, kind, at) for kind, at in ((ACTIVATED, activated),
                    (MILESTONE, milestone)) if at is not None and at < until]  # fmt: skip
    return list(from_history(history).values())


async def handoff_kpis_answer(
    conn: AsyncConnection, since: datetime, until: datetime
) -> dict[str, Any]:
    """Handoff KPIs overall, per team and per owner as of ``until``, and time to first value
    per closed-won month; ``definitions`` says what each figure is."""
    report = handoff_report(await handoffs_made(conn, since, until), until)
    cohorts = time_to_value_by_cohort(await customers_won(conn, since, until))
    return {
        "since": since,
        "until": until,
        "overall": asdict(report.overall),
        "teams": [{"team": t} | asdict(k) for t, k in report.by_team.items()],
        "owners": [{"team": t, "owner": o} | asdict(k) for (t, o), k in report.by_owner.items()],
        "time_to_value": [{"cohort": c} | asdict(v) for c, v in cohorts.items()],
        "definitions": HANDOFF_KPI_DEFINITIONS,
    }
