"""What a churn-risk reminder tells the CSM (pure): why the account is at risk, then the
evidence a CSM asks for first — seats, last product activity, support tickets, NPS, usage —
as the reminder's story lines (``{"said", "at"}``, as every reminder keeps them) and its
talking points."""

from __future__ import annotations

from datetime import datetime

from services.orchestrator.domain.churn_risk import Alert, Cause, Risk, tickets_within
from services.orchestrator.domain.value_watch import TICKET_MEMORY, ValueWatch, ValueWatchRules

Story = tuple[dict[str, str], ...]

POINTS: dict[Risk, tuple[str, ...]] = {
    Risk.EARLY_CHURN_RISK: (
        "Ask what blocks activation: access, setup, data, or who owns the rollout",
        "Offer a working session to get to first value this week",
    ),
    Risk.CHURN_RISK: (
        "Listen first: ask what changed for them",
        "Agree one fix and a date to check on it; no upsell",
    ),
}
_CAUSE_WORDS = {
    Cause.USAGE_DROP: "usage fell",
    Cause.DETRACTOR_NPS: "a detractor NPS answer",
    Cause.TICKET_SPIKE: "a spike of support tickets",
}


def _day(at: datetime) -> str:
    return f"{at:%d %b %Y}"


def head(alert: Alert, w: ValueWatch, rules: ValueWatchRules) -> str:
    """The first story line: what puts the account at risk (after the contact's name)."""
    if alert.risk is Risk.EARLY_CHURN_RISK:
        won = _day(w.won_at) if w.won_at else "closed-won"
        days = f"{rules.activation_days:g}"
        return (f"is at an account that signed on {won} and has not activated the product "
                f"{days} days later: at risk of early churn")  # fmt: skip
    why = "; ".join(_cause(c, alert, w, rules) for c in alert.causes)
    return f"is at a customer account at risk of churn: {why}"


def _cause(c: Cause, alert: Alert, w: ValueWatch, rules: ValueWatchRules) -> str:
    if c is Cause.USAGE_DROP:
        u = alert.usage
        days = rules.usage_window_days
        return (f"usage fell {u.fall:.0%} ({u.before} to {u.now} usage events, the last "
                f"{days} days against the {days} before)")  # fmt: skip
    if c is Cause.DETRACTOR_NPS and w.nps is not None:
        return f"NPS {w.nps.score} (a detractor) on {_day(w.nps.at)}"
    if c is Cause.TICKET_SPIKE:
        return f"{alert.tickets} support tickets in {rules.ticket_window_days:g} days"
    return _CAUSE_WORDS.get(c, c.value)


def evidence(w: ValueWatch, now: datetime, alert: Alert) -> list[dict[str, str]]:
    """Seats used, last activity, support tickets, NPS and usage: each known or said unknown."""
    lines = []
    if w.seats is not None:
        lines.append({"said": f"Seats: {w.seats[1]} (as of {_day(w.seats[0])})"})
    else:
        lines.append({"said": "Seats: none reported"})
    if w.last_activity is not None:
        lines.append({"said": f"Last product activity: {_day(w.last_activity)}"})
    else:
        lines.append({"said": "No product activity reported yet"})
    recent = tickets_within(w, now, TICKET_MEMORY)
    lines.append({"said": f"Support tickets in the last {TICKET_MEMORY.days} days: {recent}"})
    if w.nps is not None:
        lines.append({"said": f"NPS: {w.nps.score} on {_day(w.nps.at)}"})
    else:
        lines.append({"said": "NPS: no answer yet"})
    u = alert.usage
    lines.append(
        {"said": f"Usage events: {u.now} in the last window, {u.before} in the one before"}
    )
    return lines


def story(alert: Alert, w: ValueWatch, now: datetime, rules: ValueWatchRules) -> Story:
    """The reminder's lines; the head has no ``at``: it names its own dates, and is never
    told as a late hand-raise."""
    return ({"said": head(alert, w, rules)}, *evidence(w, now, alert))


def points(alert: Alert) -> tuple[str, ...]:
    return POINTS[alert.risk]
