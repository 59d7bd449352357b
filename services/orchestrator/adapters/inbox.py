"""The inbox: claims message ids inside the caller's transaction so each applies exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import bulk
from services.orchestrator.adapters.tables import inbox
from services.orchestrator.application.unit_of_work import InboxEntry

_COLUMNS: bulk.Columns = (
    ("event_id", "text"),
    ("topic", "text"),
    ("partition", "int4"),
    ("offset", "int8"),
    ("received_at", "timestamptz"),
)


async def claim(conn: AsyncConnection, entries: Sequence[InboxEntry], now: datetime) -> set[str]:
    """Insert the ids not seen before and return them; ids already present are redeliveries.

    One bulk statement per batch (``unnest`` on PostgreSQL, executemany on SQLite), in the
    caller's transaction: if the caller's transaction rolls back, the claim rolls back with it.
    """
    if not entries:
        return set()
    unique = {e.event_id: e for e in entries}
    if bulk.is_postgresql(conn):
        values = [(e.event_id, e.topic, e.partition, e.offset, now) for e in unique.values()]
        tail = "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
        claimed = await bulk.insert_rows(conn, "inbox", _COLUMNS, values, tail)
        return set(claimed.scalars())
    stmt = (
        sqlite_insert(inbox)
        .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
        .returning(inbox.c.event_id)
    )
    rows = [
        {
            "event_id": e.event_id,
            "topic": e.topic,
            "partition": e.partition,
            "offset": e.offset,
            "received_at": now,
        }
        for e in unique.values()
    ]
    result = await conn.execute(stmt, rows)
    return set(result.scalars())
