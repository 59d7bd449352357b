"""Stores handoffs and value watches as the orchestrator's writers do (``sql_handoffs.row_of``,
the ``value_watches`` columns), for the handoff KPI and handoff board tests on both databases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.handoff_tables import handoffs
from services.orchestrator.adapters.sql_handoffs import row_of
from services.orchestrator.adapters.value_watch_store import value_watches
from services.orchestrator.domain.handoffs import Handoff

Watch = tuple[str, datetime, datetime | None, datetime | None]
"""(account, won, activated, first milestone)"""


async def store_handoffs(
    engine: AsyncEngine, made: Sequence[Handoff], watches: Sequence[Watch] = ()
) -> None:
    async with engine.begin() as conn:
        await conn.execute(handoffs.insert(), [row_of(h) for h in made])
        if watches:
            await conn.execute(value_watches.insert(), [
                {"account_id": a, "state": {}, "next_check_at": None, "won_at": won,
                 "activated_at": act, "first_milestone_at": first, "updated_at": won}
                for a, won, act, first in watches
            ])  # fmt: skip
