"""The send ledger adapter: one row per touch id, so a command is never acted on twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.commands import DispatchTouch
from services.notifier.tables import send_ledger


async def record_queued(
    conn: AsyncConnection, commands: Sequence[tuple[DispatchTouch, int]], now: datetime
) -> set[str]:
    """Record commands not seen before as ``queued``; return their touch ids."""
    if not commands:
        return set()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(send_ledger)
        .on_conflict_do_nothing(index_elements=[send_ledger.c.touch_id])
        .returning(send_ledger.c.touch_id)
    )
    rows = {
        c.touch_id: {
            "touch_id": c.touch_id,
            "channel": c.channel.value,
            "status": "queued",
            "attempts": 0,
            "topic_offset": offset,
            "created_at": now,
            "updated_at": now,
        }
        for c, offset in commands
    }
    result = await conn.execute(stmt, list(rows.values()))
    return set(result.scalars())
