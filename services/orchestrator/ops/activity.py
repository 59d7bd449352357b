"""Read side of the ops API, activity: touches, reminders, the decision log, "why", a contact's
timeline and the data-quality counts of the decision log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.state_codec import contact_view
from services.orchestrator.adapters.tables import accounts, contacts, decisions, reminders, touches
from services.orchestrator.domain.stages import DecisionKind, IgnoreReason
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.ops.explain import explain
from services.orchestrator.ops.paging import finish, page
from services.orchestrator.ops.query_base import Bases
from services.orchestrator.ops.query_base import ledger_of as _ledger
from services.orchestrator.ops.query_base import now_or_utc as _now
from services.orchestrator.ops.query_base import rows as _rows

TOUCH_KINDS = tuple(
    k.value
    for k in (
        TouchDecision.TOUCH_PLANNED,
        TouchDecision.TOUCH_DISPATCHED,
        TouchDecision.TOUCH_DEFERRED,
        TouchDecision.TOUCH_SKIPPED,
        TouchDecision.TOUCH_NOT_PLANNED,
    )
)


async def list_touches(
    conn: AsyncConnection,
    status: str | None = None,
    reason: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    contact_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Touches by ``due_at``, newest first; ``since`` <= ``due_at`` < ``until``."""
    query = select(touches)
    for column, value in (
        (touches.c.status, status), (touches.c.reason, reason), (touches.c.channel, channel),
        (touches.c.contact_id, contact_id), (touches.c.account_id, account_id),
    ):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(touches.c.due_at >= since)
    if until is not None:
        query = query.where(touches.c.due_at < until)
    query = page(query, touches.c.due_at, touches.c.id, cursor, limit, descending=True, timed=True)
    return finish(await _rows(conn, query), limit, "due_at")


async def list_reminders(
    conn: AsyncConnection,
    rep: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    query = select(reminders, contacts.c.email.label("contact_email")).outerjoin(
        contacts, contacts.c.id == reminders.c.contact_id
    )
    if rep is not None:
        query = query.where(reminders.c.rep == rep)
    if status is not None:
        query = query.where(reminders.c.status == status)
    query = page(
        query, reminders.c.due_at, reminders.c.id, cursor, limit, descending=True, timed=True
    )
    return finish(await _rows(conn, query), limit, "due_at")


async def list_decisions(
    conn: AsyncConnection,
    kind: str | None = None,
    reason: str | None = None,
    contact_id: str | None = None,
    account_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The decision log, newest first; ``since`` <= ``decided_at`` < ``until``."""
    query = select(decisions)
    for column, value in (
        (decisions.c.kind, kind), (decisions.c.reason, reason),
        (decisions.c.contact_id, contact_id), (decisions.c.account_id, account_id),
    ):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(decisions.c.decided_at >= since)
    if until is not None:
        query = query.where(decisions.c.decided_at < until)
    query = page(query, decisions.c.decided_at, decisions.c.id, cursor, limit,
                 descending=True, timed=True, numeric_id=True)  # fmt: skip
    return finish(await _rows(conn, query), limit, "decided_at")


async def get_reminder(conn: AsyncConnection, reminder_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(reminders).where(reminders.c.id == reminder_id))).first()
    return None if row is None else dict(row._mapping)


async def why(
    conn: AsyncConnection, contact_id: str, *, now: datetime | None = None, bases: Bases = None
) -> dict[str, Any] | None:
    """Why the contact's last touch was or was not sent, in plain words plus the facts."""
    row = (await conn.execute(select(contacts).where(contacts.c.id == contact_id))).first()
    if row is None:
        return None
    contact = dict(row._mapping)
    last = (
        await conn.execute(
            select(decisions)
            .where(decisions.c.contact_id == contact_id, decisions.c.kind.in_(TOUCH_KINDS),
                   or_(decisions.c.touch_id.isnot(None),
                       decisions.c.kind == TouchDecision.TOUCH_NOT_PLANNED.value))
            .order_by(decisions.c.decided_at.desc(), decisions.c.id.desc())
            .limit(1)
        )
    ).first()  # fmt: skip
    decision = dict(last._mapping) if last else None
    touch = None
    if decision is not None:
        found = await conn.execute(select(touches).where(touches.c.id == decision["touch_id"]))
        found_touch = found.first()
        touch = dict(found_touch._mapping) if found_touch else None
    account = None
    if contact["account_id"]:
        found = await conn.execute(select(accounts).where(accounts.c.id == contact["account_id"]))
        found_account = found.first()
        account = dict(found_account._mapping) if found_account else None
    ledger = await _ledger(conn, contact_id, bases)
    return explain(contact, account, decision, touch, ledger, _now(now))


TOO_LATE_WORDS = "too late to change the stage"


async def contact_timeline(
    conn: AsyncConnection, contact_id: str, limit: int = 100
) -> list[dict[str, Any]] | None:
    """Newest first: the decision log merged with the events still held in the contact's state
    (the lateness window; older events live on only as aggregates and stage history) and the
    events that came too late to change the stage, at their own time, marked ``late``."""
    row = (await conn.execute(select(contacts.c.state).where(contacts.c.id == contact_id))).first()
    if row is None:
        return None
    items = [
        _late_event(d) or
        {"at": d["decided_at"], "type": "decision", "kind": d["kind"], "reason": d["reason"],
         "touch_id": d["touch_id"], "event_id": d["event_id"], "facts": d["facts"]}
        for d in await _rows(conn, select(decisions).where(decisions.c.contact_id == contact_id)
                             .order_by(decisions.c.decided_at.desc(), decisions.c.id.desc())
                             .limit(limit))
    ]  # fmt: skip
    for e in contact_view(row[0]).get("pending") or ():
        items.append(
            {"at": datetime.fromisoformat(e["occurred_at"]), "type": "event", "kind": e["type"],
             "event_id": e["event_id"], "properties": e.get("properties") or {}}
        )  # fmt: skip
    items.sort(key=lambda i: i["at"], reverse=True)
    return items[:limit]


def _late_event(d: dict[str, Any]) -> dict[str, Any] | None:
    """A too-late decision that kept its event, as that event at its own time."""
    facts = d["facts"] or {}
    if d["reason"] != IgnoreReason.TOO_LATE or "type" not in facts:
        return None
    late = {
        "reason": TOO_LATE_WORDS,
        "window_days": facts.get("window_days"),
        "compared_with": facts.get("compared_with"),
        "decided_at": d["decided_at"],
    }
    return {
        "at": datetime.fromisoformat(facts["occurred_at"]), "type": "event", "kind": facts["type"],
        "event_id": d["event_id"], "properties": facts.get("properties") or {}, "late": late,
    }  # fmt: skip


async def data_quality(
    conn: AsyncConnection, since: datetime, until: datetime, members: Select[Any] | None = None
) -> dict[str, int]:
    """Events accepted but not applied inside the window (by when that was decided): too late
    to change the stage, and duplicates; ``members``: only these contacts."""
    query = (
        select(decisions.c.reason, func.count())
        .where(decisions.c.kind == DecisionKind.EVENT_IGNORED.value)
        .where(decisions.c.decided_at >= since, decisions.c.decided_at < until)
        .group_by(decisions.c.reason)
    )
    if members is not None:
        query = query.where(decisions.c.contact_id.in_(members))
    counts = {reason: n for reason, n in await conn.execute(query)}
    return {
        "late_events": counts.get(IgnoreReason.TOO_LATE.value, 0),
        "duplicate_events": counts.get(IgnoreReason.DUPLICATE.value, 0),
    }
