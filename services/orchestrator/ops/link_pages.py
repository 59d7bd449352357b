"""A reminder's signed link followed by a browser: the page showing what the link will do (with
the snooze choices), and the page after its button saying what was done. Every answer is a page
in the dashboard's look, a refused or expired link included; the JSON API stays for clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.reminder_context import reminder_names
from services.orchestrator.dashboard.words import reminder_reason
from services.orchestrator.domain.reminders import InvalidTransition, ReminderAction
from services.orchestrator.ops import queries
from services.orchestrator.ops import reminder_pages as pages
from services.orchestrator.ops.links import LinkProblem, ReminderLinks
from services.orchestrator.ops.reminders import (
    MAX_SNOOZE,
    Actor,
    ReminderNotFound,
    act,
)

LINK_WORDS = {
    LinkProblem.EXPIRED: "This link has expired. Open the reminder from your dashboard inbox.",
    LinkProblem.INVALID: "This link is not valid for this reminder. Use the link in the newest "
    "reminder message, or your dashboard inbox.",
    LinkProblem.MISSING: "This address lacks its signature. Use the link from the reminder.",
}
BUTTONS = {"acknowledge": "Acknowledge", "snooze": "Snooze", "complete": "Mark done"}
TITLES = {"acknowledge": "Acknowledge reminder", "snooze": "Snooze reminder",
          "complete": "Complete reminder"}  # fmt: skip
DONE = {"acknowledge": "Reminder acknowledged", "snooze": "Reminder snoozed",
        "complete": "Reminder done"}  # fmt: skip


def _said(request: Request, status: int, now: datetime, title: str, message: str,
          **about: Any) -> Response:  # fmt: skip
    """The page after a link or its button: what was done, or why nothing was."""
    about.setdefault("reminder", None)
    return pages.page(request, "reminder_done.html", status, now=now, title=title,
                      ok=status == 200, message=message, **about)  # fmt: skip


GONE = "This reminder no longer exists."


def _refused(request: Request, problem: LinkProblem, now: datetime) -> Response:
    status = 401 if problem is LinkProblem.MISSING else 403
    return _said(request, status, now, "Link not usable", LINK_WORDS[problem])


def _zone(request: Request, rep: str | None) -> ZoneInfo:
    return request.app.state.nurture.rep_zone(rep) or ZoneInfo("UTC")


async def _about(conn: AsyncConnection, found: dict[str, Any]) -> dict[str, Any]:
    contact, account = await reminder_names(conn, found["contact_id"], found["account_id"])
    return {"reminder": found, "contact_label": contact, "account_label": account,
            "reason_words": reminder_reason(found["reason"])}  # fmt: skip


async def link_page(
    request: Request, conn: AsyncConnection, reminder_id: str, action: str, token: str | None
) -> Response:
    now: datetime = request.app.state.clock()
    links: ReminderLinks = request.app.state.links
    if problem := links.check(token, reminder_id, ReminderAction(action), now):
        return _refused(request, problem, now)
    found = await queries.get_reminder(conn, reminder_id)
    if found is None:
        return _said(request, 404, now, "Not found", GONE)
    zone = _zone(request, found["rep"])
    first, last = pages.day_bounds(now, zone)
    return pages.page(
        request, "reminder_link.html", now=now, title=TITLES[action], action=action,
        button=BUTTONS[action], target=f"{request.url.path}?{request.url.query}",
        choices=pages.snooze_choices(now, zone), first_day=first.isoformat(),
        last_day=last.isoformat(), zone=zone.key, max_days=MAX_SNOOZE.days,
        due_words=pages.in_zone(found["due_at"], zone), **await _about(conn, found),
    )  # fmt: skip


def _done_words(action: str, until: datetime | None, zone: ZoneInfo) -> str:
    if action == "snooze" and until is not None:
        return f"Snoozed until {pages.in_zone(until, zone)}. It comes back to you then."
    if action == "acknowledge":
        return "Acknowledged: the reminder stays in your inbox until you mark it done."
    return "Marked done. Nothing more will remind you of this."


async def act_from_page(
    request: Request, reminder_id: str, action: str, token: str | None
) -> Response:
    """The link page's button: check the link, take the form's choice, act, say what happened."""
    now: datetime = request.app.state.clock()
    links: ReminderLinks = request.app.state.links
    if problem := links.check(token, reminder_id, ReminderAction(action), now):
        return _refused(request, problem, now)
    form = await request.form()
    engine = request.app.state.engine
    async with engine.connect() as conn:
        found = await queries.get_reminder(conn, reminder_id)
        about = await _about(conn, found) if found else {"reminder": None}
    zone = _zone(request, found["rep"] if found else None)
    until = None
    if action == "snooze":
        chosen = pages.chosen_until(
            str(form.get("choice") or "1h"), str(form.get("day") or ""), now, zone
        )
        if isinstance(chosen, str):
            return _said(request, 422, now, "Not snoozed", chosen, **about)
        until = chosen
    try:
        async with engine.begin() as conn:
            await act(conn, reminder_id, ReminderAction(action), now, Actor("signed link"), until)
    except ReminderNotFound:
        return _said(request, 404, now, "Not found", GONE)
    except InvalidTransition:
        status = found["status"] if found else "changed"
        return _said(request, 409, now, "Nothing to do", f"This reminder is already {status}.",
                     **about)  # fmt: skip
    return _said(request, 200, now, DONE[action], _done_words(action, until, zone), **about)
