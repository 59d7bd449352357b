"""The funnel page's inputs (pure): a time range from query parameters, and funnel metrics (as
``ops.queries.funnel`` returns them) as chart bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.orchestrator.dashboard.svg import Bar
from services.orchestrator.domain.stages import Stage

DEFAULT_DAYS = 30


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def time_range(
    since: str | None, until: str | None, now: datetime
) -> tuple[datetime, datetime, str]:
    """``[since, until)`` from ``YYYY-MM-DD`` days (``until`` inclusive); the last 30 days by
    default. A bad or reversed range falls back to the default with a note, never a 500."""
    start, end = _day(since), _day(until)
    hi = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1) if end else now
    lo = (
        datetime.combine(start, datetime.min.time(), UTC) if start else hi - timedelta(DEFAULT_DAYS)
    )
    problem = ""
    if (since and start is None) or (until and end is None) or lo >= hi:
        problem = "That range is not valid (use YYYY-MM-DD, since before until); showing the last "
        problem += f"{DEFAULT_DAYS} days."
        hi, lo = now, now - timedelta(DEFAULT_DAYS)
    return lo, hi, problem


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
