"""The funnel page's inputs (pure): a time range from query parameters, and funnel metrics (as
``ops.queries.funnel`` returns them) as chart bars, KPI table rows and lift chart rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.orchestrator.dashboard.svg import Bar, LiftRow
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


KPI_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("contacts_entered", "contacts entered", "entered"),
    ("accounts_entered", "accounts entered", "entered"),
    ("win_rate", "win rate", "win_rate"),
    ("sales_cycle", "median sales cycle", "median_sales_cycle_days"),
    ("pipeline", "open pipeline", "open_pipeline"),
    ("weighted", "weighted pipeline", "weighted_pipeline"),
    ("churn", "churn rate", "churn_rate"),
    ("nrr", "NRR", "nrr"),
    ("nps", "NPS", "nps"),
    ("cltv", "CLTV", "cltv"),
)
"""(key, heading, definition key): the KPI table's columns; the heading's hover is the
definition (``ops.kpi_definitions``)."""


def money_text(amounts: dict[str, float]) -> str:
    """``EUR 1,000 · USD 2,000.50``: each currency apart, never summed."""
    if not amounts:
        return "—"
    return " · ".join(f"{cur} {v:,.2f}".replace(".00", "") for cur, v in amounts.items())


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} d"


def kpi_row(
    label: str, contacts: dict[str, Any], firms: dict[str, Any], revenue: dict[str, Any]
) -> dict[str, str]:
    """One line of the KPI table (all, or one segment), as display text."""
    deals, ret, nps = revenue["deals"], revenue["retention"], revenue["nps"]
    won = f"{_share(deals['win_rate'])} ({deals['won']}/{deals['closed']})"
    nrr = " · ".join(f"{c} {v * 100:.0f}%" for c, v in ret["nrr"].items()) or "—"
    score = "—" if nps["score"] is None else f"{nps['score']:+.0f} ({nps['answers']})"
    return {
        "label": label,
        "contacts_entered": str(sum(contacts["entered"].values())),
        "accounts_entered": str(sum(firms["entered"].values())),
        "win_rate": "—" if deals["win_rate"] is None else won,
        "sales_cycle": _days(deals["median_sales_cycle_days"]),
        "pipeline": money_text(revenue["pipeline"]["value"]),
        "weighted": money_text(revenue["pipeline"]["weighted"]),
        "churn": f"{_share(ret['churn_rate'])} ({ret['churned']}/{ret['customers_at_start']})",
        "nrr": nrr,
        "nps": score,
        "cltv": money_text(revenue["cltv"]["value"]),
    }


def kpi_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """All, then one row per segment value when the page asked for a segment."""
    rows = [kpi_row("all", metrics["contacts"], metrics["accounts"], metrics["revenue"])]
    for s in (metrics.get("segments") or {}).get("items", ()):
        rows.append(kpi_row(s["value"], s["contacts"], s["accounts"], s["revenue"]))
    return rows


def _arm(arm: dict[str, Any]) -> str:
    return f"{_share(arm['rate'])} of {arm['people']}"


def lift_rows(metrics: dict[str, Any], goal: bool = False) -> list[LiftRow]:
    """One row per measured sequence: to the next stage, or (``goal``) to the goal stage."""
    rows = []
    for s in metrics["lift"]:
        d = s["to_goal"] if goal else s["to_next"]
        if d is None:
            continue
        target = s["goal"] if goal else s["next_stage"]
        low, high = d["ci95"] or (None, None)
        rows.append(
            LiftRow(f"{s['sequence']} ({s['stage']} → {target})", _arm(d["treated"]),
                    _arm(d["held_out"]), d["difference"], low, high, d["note"])
        )  # fmt: skip
    return rows
