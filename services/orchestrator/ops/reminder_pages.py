"""The pages a rep lands on from a reminder's signed Acknowledge / Snooze link, in the
dashboard's look: who and which account by name, snooze choices (1 hour, 4 hours, tomorrow
morning in the rep's zone, a day picked within ``MAX_SNOOZE``), and after the button a page
saying what was done. A browser never ends on the API's JSON, not even for a bad link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.orchestrator.dashboard.routes import HEADERS
from services.orchestrator.dashboard.ui import make_templates
from services.orchestrator.ops.reminders import MAX_SNOOZE

MORNING = time(9, 0)
"""'Tomorrow morning' and a picked day start at this hour in the rep's zone."""


@dataclass(frozen=True)
class SnoozeChoice:
    value: str
    label: str
    until: datetime


def _morning(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, MORNING, tzinfo=zone)


def snooze_choices(now: datetime, zone: ZoneInfo) -> list[SnoozeChoice]:
    """The lengths offered, each with the time it ends."""
    tomorrow = _morning(now.astimezone(zone).date() + timedelta(days=1), zone)
    return [
        SnoozeChoice("1h", "1 hour", now + timedelta(hours=1)),
        SnoozeChoice("4h", "4 hours", now + timedelta(hours=4)),
        SnoozeChoice("tomorrow", f"tomorrow morning ({tomorrow:%a %H:%M})", tomorrow),
    ]


def day_bounds(now: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last day a rep may pick (tomorrow .. the last morning within MAX_SNOOZE)."""
    first = now.astimezone(zone).date() + timedelta(days=1)
    last = (now + MAX_SNOOZE).astimezone(zone).date()
    if _morning(last, zone) > now + MAX_SNOOZE:
        last -= timedelta(days=1)
    return first, last


def chosen_until(choice: str, day: str, now: datetime, zone: ZoneInfo) -> datetime | str:
    """When the snooze ends, or what is wrong with the choice (in words, for the page)."""
    for offered in snooze_choices(now, zone):
        if offered.value == choice:
            return offered.until
    if choice != "date":
        return "Choose how long to snooze."
    try:
        picked = date.fromisoformat(day)
    except ValueError:
        return "Pick a day to snooze until."
    first, last = day_bounds(now, zone)
    if not first <= picked <= last:
        return f"Pick a day from {first:%d %b} to {last:%d %b %Y}."
    return _morning(picked, zone)


def in_zone(at: datetime, zone: ZoneInfo) -> str:
    return f"{at.astimezone(zone):%a %d %b, %H:%M} ({zone.key})"


@cache
def _templates() -> Jinja2Templates:
    return make_templates()


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of the dashboard's templates, with its headers (no framing, no scripts)."""
    response = _templates().TemplateResponse(
        request, name, {"now": context.pop("now"), **context}, status_code=status_code
    )
    response.headers.update(HEADERS)
    assert isinstance(response, HTMLResponse)
    return response


def wants_html(request: Request) -> bool:
    """A browser: it asks for HTML, or it posts a form."""
    kind = request.headers.get("content-type", "")
    return "text/html" in request.headers.get("accept", "") or kind.startswith(
        "application/x-www-form-urlencoded"
    )
