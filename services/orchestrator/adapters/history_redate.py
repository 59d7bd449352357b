"""Stage history re-dated by imported history: a stored move (a contact's, and its account's
move on the same event) takes the time and event the replay now gives it, instead of a second
row for the same stage entry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import stage_history
from services.orchestrator.domain.state import Redated


async def redate_history(conn: AsyncConnection, moves: Sequence[Redated]) -> None:
    for old, new in moves:
        h = stage_history.c
        await conn.execute(
            update(stage_history)
            .where(
                h.event_id.is_not_distinct_from(old.event_id),
                h.occurred_at == old.occurred_at,
                h.from_stage.is_not_distinct_from(old.from_stage),
                h.to_stage == old.to_stage,
            )
            .values(occurred_at=new.occurred_at, event_id=new.event_id)
        )
