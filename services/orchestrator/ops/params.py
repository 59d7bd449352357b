"""Path and query parameters the ops routes share, each bounded so hostile input is a 422.

An unchecked value reaches the database driver, and the driver's refusal was a 500 (and a reset
connection): PostgreSQL refuses NUL in text, an aware time near year 9999 overflows when
converted to UTC, an int past 64 bits overflows both drivers. Here each is a 422 naming the
parameter, in FastAPI's validation shape (``ops.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status
from pydantic import AfterValidator, AwareDatetime

from schemas.plausibility import EARLIEST, TimeWindow, has_control_characters

MAX_ID = 200
"""Longest id or name in a path or filter: ids are 64 characters, source names 200."""
MAX_TEXT = 64
"""Longest free filter (a decision kind or a reason code)."""
QUERY_AHEAD = timedelta(days=1826)
"""How far ahead a time in a query may be (about five years): planned touches and snoozed
reminders are legitimately due in the future, but nothing is planned further out than that."""
QUERY_WINDOW = TimeWindow(EARLIEST, QUERY_AHEAD)


def _printable(value: str | None) -> str | None:
    if value is not None and has_control_characters(value):
        raise ValueError("must not contain control characters (NUL, newline, ...)")
    return value


Printable = AfterValidator(_printable)
PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID), Printable]
IdFilter = Annotated[str | None, Query(max_length=MAX_ID), Printable]
EmailFilter = Annotated[
    str | None, Query(min_length=3, max_length=320, description="exact, any case"), Printable
]
DomainFilter = Annotated[
    str | None, Query(min_length=1, max_length=253, description="exact, e.g. acme.example"),
    Printable,
]  # fmt: skip
ExternalIdFilter = Annotated[
    str | None, Query(min_length=1, max_length=MAX_ID, description="the CRM's id, exact"),
    Printable,
]  # fmt: skip
Since = Annotated[AwareDatetime | None, Query(description="from this instant (with a zone)")]
Until = Annotated[AwareDatetime | None, Query(description="before this instant (with a zone)")]


def window_problem(window: TimeWindow, value: datetime, now: datetime) -> str | None:
    """``window.problem`` with the accepted window spelled out, for a 422 body."""
    problem = window.problem(value, now)
    if problem is None:
        return None
    return (
        f"{problem}: accepted from {window.earliest.isoformat()} "
        f"to {(now + window.ahead).isoformat()} (now + {window.ahead.days} days)"
    )


@dataclass(frozen=True, slots=True)
class TimeRange:
    since: datetime | None
    until: datetime | None


def time_range(request: Request, since: Since = None, until: Until = None) -> TimeRange:
    """``since``/``until`` inside ``QUERY_WINDOW`` and in order, or a 422 naming each bad one."""
    now: datetime = request.app.state.clock()
    errors = [
        {"loc": ["query", name], "msg": problem, "type": "value_error", "input": value.isoformat()}
        for name, value in (("since", since), ("until", until))
        if value is not None and (problem := window_problem(QUERY_WINDOW, value, now))
    ]
    if not errors and since is not None and until is not None and until <= since:
        errors.append({"loc": ["query", "until"], "msg": "until must be after since",
                       "type": "value_error", "input": until.isoformat()})  # fmt: skip
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)
    return TimeRange(since, until)


Range = Annotated[TimeRange, Depends(time_range)]
