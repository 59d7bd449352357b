"""The send ledger adapter: one row per touch id, so a command is never acted on twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.commands import DispatchTouch
from services.notifier.tables import send_ledger


@dataclass(frozen=True)
class LedgerRow:
    touch_id: str
    status: str
    provider_id: str | None
    error: str | None
    retryable: bool = False
    """Only for ``failed``: the provider certainly did not accept the message."""


async def claim_for_sending(
    conn: AsyncConnection, commands: Sequence[tuple[DispatchTouch, int]], now: datetime
) -> set[str]:
    """Record never-seen commands as ``sending`` (and promote ``queued`` rows); return the ids
    this caller now owns. The caller commits before any provider call."""
    if not commands:
        return set()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(send_ledger)
        .on_conflict_do_nothing(index_elements=[send_ledger.c.touch_id])
        .returning(send_ledger.c.touch_id)
    )
    rows = [
        {
            "touch_id": c.touch_id,
            "channel": c.channel.value,
            "status": "sending",
            "attempts": 1,
            "topic_offset": offset,
            "created_at": now,
            "updated_at": now,
        }
        for c, offset in commands
    ]
    claimed = set((await conn.execute(stmt, rows)).scalars())
    promoted = await conn.execute(
        update(send_ledger)
        .where(send_ledger.c.touch_id.in_([c.touch_id for c, _ in commands]))
        .where(send_ledger.c.status == "queued")
        .values(status="sending", attempts=send_ledger.c.attempts + 1, updated_at=now)
        .returning(send_ledger.c.touch_id)
    )
    return claimed | set(promoted.scalars())


async def release(conn: AsyncConnection, touch_ids: Sequence[str], now: datetime) -> None:
    """Hand claimed touches back unsent (``sending`` -> ``queued``): no provider call was made
    for them, so whoever next receives their command claims and sends them."""
    if not touch_ids:
        return
    await conn.execute(
        update(send_ledger)
        .where(send_ledger.c.touch_id.in_(list(touch_ids)))
        .where(send_ledger.c.status == "sending")
        .values(status="queued", updated_at=now)
    )


async def load_rows(conn: AsyncConnection, touch_ids: Sequence[str]) -> dict[str, LedgerRow]:
    if not touch_ids:
        return {}
    result = await conn.execute(
        select(
            send_ledger.c.touch_id,
            send_ledger.c.status,
            send_ledger.c.provider_id,
            send_ledger.c.error,
            send_ledger.c.retryable,
        ).where(send_ledger.c.touch_id.in_(list(touch_ids)))
    )
    return {
        r.touch_id: LedgerRow(r.touch_id, r.status, r.provider_id, r.error, r.retryable)
        for r in result
    }


async def record_result(
    conn: AsyncConnection,
    touch_id: str,
    status: str,
    provider_id: str | None,
    error: str | None,
    now: datetime,
    attempts: int | None = None,
) -> None:
    values: dict[str, object] = {
        "status": status,
        "provider_id": provider_id,
        "error": error,
        "updated_at": now,
    }
    if attempts is not None:
        values["attempts"] = attempts
    await conn.execute(
        update(send_ledger).where(send_ledger.c.touch_id == touch_id).values(**values)
    )


async def record_results(
    conn: AsyncConnection, rows: Sequence[tuple[LedgerRow, int]], now: datetime
) -> None:
    """Final status of many touches in one executemany: (row, provider calls made)."""
    if not rows:
        return
    stmt = (
        update(send_ledger)
        .where(send_ledger.c.touch_id == bindparam("b_touch_id"))
        .values(
            status=bindparam("b_status"),
            provider_id=bindparam("b_provider_id"),
            error=bindparam("b_error"),
            retryable=bindparam("b_retryable"),
            attempts=bindparam("b_attempts"),
            updated_at=now,
        )
    )
    params = [
        {
            "b_touch_id": r.touch_id,
            "b_status": r.status,
            "b_provider_id": r.provider_id,
            "b_error": r.error,
            "b_retryable": r.retryable,
            "b_attempts": attempts,
        }
        for r, attempts in rows
    ]
    await conn.execute(stmt, params)
