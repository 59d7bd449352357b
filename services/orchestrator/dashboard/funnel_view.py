"""The funnel page's inputs (pure): a time range from query parameters, and funnel metrics (as
``ops.queries.funnel`` returns them) as chart bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.orchestrator.dashboard.svg import Bar
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops.params import QUERY_WINDOW

DEFAULT_DAYS = 30


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, datetime.min.time(), UTC)


def time_range(
    since: str | None, until: str | None, now: datetime
) -> tuple[datetime, datetime, str]:
    """``[since, until)`` from ``YYYY-MM-DD`` days (``until`` inclusive); the last 30 days by
    default. A bad, reversed or implausible range (outside the ops API's ``QUERY_WINDOW``; the
    day after 9999-12-31 does not exist) falls back to the default with a note, never a 500."""
    start, end = _start_of(_day(since)), _start_of(_day(until))
    fine = not ((since and start is None) or (until and end is None))
    fine = fine and not any(d and QUERY_WINDOW.problem(d, now) for d in (start, end))
    if fine:
        hi = end + timedelta(days=1) if end else now
        lo = start or hi - timedelta(DEFAULT_DAYS)
        if lo < hi:
            return lo, hi, ""
    problem = "That range is not valid (use YYYY-MM-DD, since before until, from "
    problem += f"{QUERY_WINDOW.earliest.year} to at most {QUERY_WINDOW.ahead.days} days ahead); "
    problem += f"showing the last {DEFAULT_DAYS} days."
    return now - timedelta(DEFAULT_DAYS), now, problem


def funnel_bars(metrics: dict[str, Any], link: str | None) -> list[Bar]:
    """One bar per stage (funnel order, parked stages last): entries in the window, with the
    conversion to the next stage as the note."""
    rates = {c["from"]: c for c in metrics["conversion"]}
    bars = []
    for stage in Stage:
        conv = rates.get(stage.value)
        note = ""
        if conv is not None and conv["rate"] is not None:
            note = f"{conv['rate'] * 100:.0f}% on to {conv['to']}"
        href = f"{link}?stage={stage.value}" if link else None
        bars.append(
            Bar(stage.value, metrics["entered"].get(stage.value, 0), note, href, stage.parked)
        )
    return bars
