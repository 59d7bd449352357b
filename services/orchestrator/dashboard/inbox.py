"""The rep's inbox as the dashboard shows it: overdue first (past the reason's response time,
``reminder_story.respond_within``), then due, then not yet due, then snoozed; filtered by reason
and account; every card with names, not ids; and the counts the navigation shows on every page.
A rep's open work is small, so the to-do view is read whole (``TODO_LIMIT``) and ordered here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import accounts, contacts, reminders
from services.orchestrator.domain.reminder_story import respond_within
from services.orchestrator.domain.reminders import ReminderStatus
from trellis.message_templates import account_label, contact_label

TODO = (ReminderStatus.OPEN.value, ReminderStatus.ACKNOWLEDGED.value, ReminderStatus.SNOOZED.value)
TODO_LIMIT = 500


class Urgency(StrEnum):
    OVERDUE = "overdue"
    DUE = "due"
    UPCOMING = "upcoming"
    SNOOZED = "snoozed"
    CLOSED = "closed"


ORDER = tuple(Urgency)


def urgency(status: str, reason: str, due_at: datetime, now: datetime) -> Urgency:
    if status == ReminderStatus.SNOOZED.value:
        return Urgency.SNOOZED
    if status not in TODO:
        return Urgency.CLOSED
    if due_at > now:
        return Urgency.UPCOMING
    return Urgency.OVERDUE if now > due_at + respond_within(reason) else Urgency.DUE


def in_order(items: Sequence[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Each item with its ``urgency``, most urgent first; inside a group, the longest waiting
    (snoozed: the soonest back) first."""
    marked = [{**i, "urgency": urgency(i["status"], i["reason"], i["due_at"], now)} for i in items]
    return sorted(
        marked,
        key=lambda i: (ORDER.index(i["urgency"]), i["snoozed_until"] or i["due_at"], i["id"]),
    )


@dataclass(frozen=True)
class InboxCounts:
    overdue: int = 0
    due: int = 0
    snoozed: int = 0


def _mine(query: Any, rep: str | None, reason: str | None, account_id: str | None) -> Any:
    for column, value in ((reminders.c.rep, rep), (reminders.c.reason, reason),
                          (reminders.c.account_id, account_id)):  # fmt: skip
        if value:
            query = query.where(column == value)
    return query


async def inbox_counts(conn: AsyncConnection, rep: str | None, now: datetime) -> InboxCounts:
    query = select(reminders.c.status, reminders.c.reason, reminders.c.due_at).where(
        reminders.c.status.in_(TODO)
    )
    found = [urgency(s, r, d, now) for s, r, d in await conn.execute(_mine(query, rep, None, None))]
    return InboxCounts(
        found.count(Urgency.OVERDUE), found.count(Urgency.DUE), found.count(Urgency.SNOOZED)
    )


def _labelled(row: Mapping[str, Any]) -> dict[str, Any]:
    traits = row["contact_traits"] or {}
    name = traits.get("name") or " ".join(
        str(traits[k]) for k in ("first_name", "last_name") if traits.get(k)
    )
    return {
        **row,
        "contact_label": contact_label(name, row["contact_email"]),
        "account_label": account_label(row["account_name"], row["account_domain"]),
    }


async def inbox_items(
    conn: AsyncConnection,
    rep: str | None,
    reason: str | None,
    account_id: str | None,
    statuses: Sequence[str],
    limit: int = TODO_LIMIT,
) -> list[dict[str, Any]]:
    """The reminders with the names of their person and account."""
    query = (
        select(
            reminders, contacts.c.email.label("contact_email"),
            contacts.c.traits.label("contact_traits"), accounts.c.name.label("account_name"),
            accounts.c.domain.label("account_domain"),
        )
        .outerjoin(contacts, contacts.c.id == reminders.c.contact_id)
        .outerjoin(accounts, accounts.c.id == reminders.c.account_id)
        .where(reminders.c.status.in_(statuses))
        .order_by(reminders.c.due_at.desc(), reminders.c.id)
        .limit(limit)
    )  # fmt: skip
    rows = await conn.execute(_mine(query, rep, reason, account_id))
    return [_labelled(dict(r)) for r in rows.mappings()]


async def inbox_accounts(conn: AsyncConnection, rep: str | None) -> list[tuple[str, str]]:
    """(account id, its name) of the accounts with reminders (for the filter), by name."""
    query = (
        select(accounts.c.id, accounts.c.name, accounts.c.domain)
        .where(accounts.c.id.in_(_mine(select(reminders.c.account_id), rep, None, None)))
    )  # fmt: skip
    found = [(i, account_label(n, d)) for i, n, d in await conn.execute(query)]
    return sorted(found, key=lambda pair: pair[1].lower())
