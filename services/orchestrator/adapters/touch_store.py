"""Touches and reminders tables: idempotent inserts, claiming due touches, marking outcomes.

Claiming: on PostgreSQL one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING`` inside the claimer's transaction stamps the rows ``claimed_by`` and returns them; on
SQLite (one writer at a time) one atomic ``UPDATE ... SET claimed_by = me WHERE status =
'planned' AND due_at <= now AND claimed_by IS NULL``, then the claimer selects its own rows.
Either way a touch has one claimer at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import bulk, sqlite_bulk
from services.orchestrator.adapters.tables import reminders, touches
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.views import StoredTouch

PLANNED, DISPATCHED, SKIPPED = "planned", "dispatched", "skipped"
CLAIM_LEASE = timedelta(minutes=5)  # a claimer that died lets go after this


def _insert(conn: AsyncConnection, table: Any) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


async def add_touches(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert planned touches; a touch id already present is left as it is."""
    if rows and conn.dialect.name == "postgresql":  # one unnest statement for the batch
        await bulk.insert_dicts(conn, touches, rows, "ON CONFLICT DO NOTHING")
    elif rows:
        stmt = sqlite_insert(touches).on_conflict_do_nothing()
        await sqlite_bulk.insert_dicts(conn, "touches", stmt, touches, rows)


def planned_row(
    touch_id: str, contact_id: str, account_id: str | None, channel: str, template: str,
    stage: str, step: str, due_at: datetime, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """A new planned touch as the table's columns."""
    return {
        "id": touch_id, "contact_id": contact_id, "account_id": account_id, "channel": channel,
        "template_id": template, "stage": stage, "sequence_step": step, "status": PLANNED,
        "reason": None, "due_at": due_at, "claimed_by": None, "claimed_at": None,
        "dispatched_at": None, "created_at": now,
    }  # fmt: skip


async def skip_sequence(
    conn: AsyncConnection, sequence_id: str, contact_ids: Sequence[str], reason: str
) -> list[tuple[str, str, str | None]]:
    """Mark the planned touches of ``sequence_id`` for these contacts skipped; (id, contact,
    account) of each. Retries (``<id>~r<n>``) keep their step, so they are included."""
    if not contact_ids:
        return []
    found = await conn.execute(
        update(touches)
        .where(
            touches.c.status == PLANNED,
            touches.c.contact_id.in_(list(contact_ids)),
            touches.c.sequence_step.startswith(f"{sequence_id}/", autoescape=True),
        )
        .values(status=SKIPPED, reason=reason, claimed_by=None)
        .returning(touches.c.id, touches.c.contact_id, touches.c.account_id)
    )
    return [(r[0], r[1], r[2]) for r in found]


async def add_reminders(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(_insert(conn, reminders).on_conflict_do_nothing(), list(rows))


async def recent_reminders(
    conn: AsyncConnection, contact_ids: Iterable[str], since: datetime
) -> set[tuple[str, str]]:
    """(contact, reason) pairs that already have a reminder created after ``since``."""
    wanted = sorted(set(contact_ids))
    if not wanted:
        return set()
    rows = await conn.execute(
        select(reminders.c.contact_id, reminders.c.reason).where(
            reminders.c.contact_id.in_(wanted), reminders.c.created_at > since
        )
    )
    return {(r[0], r[1]) for r in rows}


def _claimable(now: datetime) -> Any:
    return and_(
        touches.c.status == PLANNED,
        touches.c.due_at <= now,
        or_(touches.c.claimed_by.is_(None), touches.c.claimed_at < now - CLAIM_LEASE),
    )


REMINDER_CHANNELS = [c.value for c in TouchChannel if c.is_reminder]


async def claim_due(conn: AsyncConnection, me: str, now: datetime, limit: int) -> list[StoredTouch]:
    """Claim up to ``limit`` due touches for ``me`` in the caller's transaction: rep reminders
    first, then marketing, each oldest due first. A backlog of due marketing (after downtime, a
    big campaign) must not hold a hand-raiser's reminder for rounds; two claims, each walking
    the (status, due_at) index, instead of one that sorts every due row by kind."""
    reminders_first = touches.c.channel.in_(REMINDER_CHANNELS)
    if conn.dialect.name == "postgresql":  # each claim returns its rows: two statements
        taken = await _claim_returning(conn, me, now, limit, reminders_first)
        if len(taken) < limit:
            marketing = touches.c.channel.not_in(REMINDER_CHANNELS)
            taken += await _claim_returning(conn, me, now, limit - len(taken), marketing)
        return sorted(taken, key=attrgetter("due_at", "id"))  # decided in this order: caps
    count = await _claim(conn, me, now, limit, reminders_first)
    if count < limit:
        await _claim(conn, me, now, limit - count, touches.c.channel.not_in(REMINDER_CHANNELS))
    rows = await conn.execute(
        select(touches)
        .where(touches.c.claimed_by == me, touches.c.status == PLANNED)
        .order_by(touches.c.due_at, touches.c.id)  # decided in this order: caps count so
    )
    return [StoredTouch.from_row(r) for r in rows.mappings()]


async def _claim_returning(
    conn: AsyncConnection, me: str, now: datetime, limit: int, kind: Any
) -> list[StoredTouch]:
    """PostgreSQL: stamp up to ``limit`` claimable touches of ``kind`` as ``me``'s and return
    them, in one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``."""
    due = (
        select(touches.c.id)
        .where(_claimable(now), kind)
        .order_by(touches.c.due_at, touches.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    found = await conn.execute(
        update(touches)
        .where(touches.c.id.in_(due.scalar_subquery()))
        .values(claimed_by=me, claimed_at=now)
        .returning(*touches.c)
    )
    return [StoredTouch.from_row(r) for r in found.mappings()]


async def _claim(conn: AsyncConnection, me: str, now: datetime, limit: int, kind: Any) -> int:
    """SQLite: stamp up to ``limit`` claimable touches of ``kind`` as ``me``'s (the claiming
    UPDATE holds the single write lock); returns how many."""
    due = select(touches.c.id).where(_claimable(now), kind).order_by(touches.c.due_at, touches.c.id)
    done = await conn.execute(
        update(touches)
        .where(touches.c.id.in_(due.limit(limit).scalar_subquery()), _claimable(now))
        .values(claimed_by=me, claimed_at=now)
    )
    return int(done.rowcount)


async def lock_recipients(conn: AsyncConnection, keys: Iterable[str]) -> None:
    """Hold ``keys`` until the caller's transaction ends, so that cap checks for the same account
    or contact never interleave across instances. PostgreSQL: transaction-scoped advisory locks,
    taken in one global order (no deadlock); SQLite: the claiming UPDATE already holds the
    database's single write lock until commit."""
    if conn.dialect.name != "postgresql":
        return
    ids = sorted({_lock_id(k) for k in keys})
    if ids:
        await conn.execute(
            text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:ids AS bigint[])) k"),
            {"ids": ids},
        )


def _lock_id(key: str) -> int:
    """A stable signed 64-bit advisory lock id (Python's ``hash`` is salted per process)."""
    digest = hashlib.blake2b(f"trellis.touch:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def sent_history(
    conn: AsyncConnection, contact_ids: Iterable[str], account_ids: Iterable[str], since: datetime
) -> list[SentTouch]:
    """Touches dispatched after ``since`` to these contacts or their accounts (for caps)."""
    contacts_, accounts_ = sorted(set(contact_ids)), sorted(set(account_ids))
    rows = await conn.execute(
        select(
            touches.c.contact_id, touches.c.account_id, touches.c.channel, touches.c.dispatched_at
        ).where(
            touches.c.status == DISPATCHED,
            touches.c.dispatched_at > since,
            or_(touches.c.contact_id.in_(contacts_), touches.c.account_id.in_(accounts_)),
        )
    )
    return [SentTouch(r[0], r[1], TouchChannel(r[2]), r[3]) for r in rows]


Ending = tuple[str, str, str | None, datetime | None]
"""(touch id, status, reason, new due_at or None) of one claimed touch at the end of a round."""

_FINISH_PG = text(
    "UPDATE touches AS t SET status = v.status, reason = v.reason, claimed_by = NULL,"
    " dispatched_at = CASE WHEN v.status = 'dispatched' THEN CAST(:now AS timestamptz)"
    " ELSE t.dispatched_at END,"
    " due_at = COALESCE(v.due_at, t.due_at)"
    " FROM unnest(CAST(CAST(:ids AS text) AS text[]), CAST(CAST(:statuses AS text) AS text[]),"
    " CAST(CAST(:reasons AS text) AS text[]), CAST(:dues AS timestamptz[]))"
    " AS v(id, status, reason, due_at)"
    " WHERE t.id = v.id AND t.claimed_by = :me"
)


def _finish_many() -> Any:
    when = touches.c.dispatched_at
    return (
        update(touches)
        .where(touches.c.id == bindparam("b_id"), touches.c.claimed_by == bindparam("b_me"))
        .values(
            status=bindparam("b_status"),
            reason=bindparam("b_reason"),
            claimed_by=None,
            dispatched_at=case(
                (bindparam("b_status") == DISPATCHED, bindparam("b_now", type_=when.type)),
                else_=when,
            ),
            due_at=func.coalesce(bindparam("b_due", type_=touches.c.due_at.type), touches.c.due_at),
        )
    )


_FINISH_MANY = _finish_many()


async def finish_all(
    conn: AsyncConnection, endings: Sequence[Ending], me: str, now: datetime
) -> None:
    """End a round's claimed touches in one statement (PostgreSQL: one ``unnest`` update; SQLite:
    one executemany): a round of N touches was N updates, a tenth of the scheduler's CPU. Only
    rows ``me`` still holds change (a lapsed lease's new claimer keeps its own)."""
    if not endings:
        return
    if conn.dialect.name == "postgresql":
        ids, statuses, reasons, dues = zip(*endings, strict=True)
        await conn.execute(_FINISH_PG, {
            "ids": bulk.pg_array(ids), "statuses": bulk.pg_array(statuses),
            "reasons": bulk.pg_array([None if r is None else str(r) for r in reasons]),
            "dues": list(dues), "now": now, "me": me,
        })  # fmt: skip
        return
    await conn.execute(_FINISH_MANY, [
        {"b_id": i, "b_me": me, "b_status": s, "b_reason": None if r is None else str(r),
         "b_now": now, "b_due": d}
        for i, s, r, d in endings
    ])  # fmt: skip


_STATUSES_PG = text(
    "UPDATE touches AS t SET status = v.status"
    " FROM unnest(CAST(CAST(:ids AS text) AS text[]), CAST(CAST(:statuses AS text) AS text[]))"
    " AS v(id, status) WHERE t.id = v.id"
)
_STATUSES_MANY = (
    update(touches).where(touches.c.id == bindparam("b_id")).values(status=bindparam("b_status"))
)


async def set_statuses(conn: AsyncConnection, statuses: Mapping[str, str]) -> None:
    """touch id -> its status as the provider reported it (delivered, bounced...): a batch of
    delivery outcomes in one statement on PostgreSQL (``unnest``), one executemany on SQLite."""
    if not statuses:
        return
    if conn.dialect.name == "postgresql":
        ids, values = zip(*sorted(statuses.items()), strict=True)
        await conn.execute(
            _STATUSES_PG, {"ids": bulk.pg_array(ids), "statuses": bulk.pg_array(values)}
        )
        return
    await conn.execute(_STATUSES_MANY, [{"b_id": t, "b_status": s} for t, s in statuses.items()])
