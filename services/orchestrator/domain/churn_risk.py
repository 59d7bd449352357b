"""What the time-to-value watch decides at ``now`` (pure): a new customer not activated by day N
is at risk of early churn (one reminder, never after activation); a customer whose usage fell,
who answered NPS as a detractor or opened a spike of support tickets is at risk of churn (one
reminder per episode: the episode ends when every signal has cleared, and a later signal opens
a new one). ``next_check`` says when the verdict can next change with no event arriving, so
the reminder clock looks only at the watches that are due.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from services.orchestrator.domain.value_watch import ValueWatch, ValueWatchRules, prune


class Risk(StrEnum):
    """The reminder reasons the watch gives (stored as the reminder's ``reason``)."""

    EARLY_CHURN_RISK = "early_churn_risk"
    CHURN_RISK = "churn_risk"


class Cause(StrEnum):
    NOT_ACTIVATED = "not_activated"
    USAGE_DROP = "usage_drop"
    DETRACTOR_NPS = "detractor_nps"
    TICKET_SPIKE = "ticket_spike"


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage events in the last window and in the one before it."""

    now: int
    before: int

    @property
    def fall(self) -> float:
        return 0.0 if self.before == 0 else 1 - self.now / self.before


@dataclass(frozen=True, slots=True)
class Alert:
    """One reminder the watch calls for; ``since``: the moment that names it (day N, or the
    episode's start), so it is made once."""

    risk: Risk
    account_id: str
    contact_id: str | None
    since: datetime
    causes: tuple[Cause, ...]
    usage: Usage
    tickets: int

    @property
    def dedup_key(self) -> str:
        return f"{self.account_id}/{self.risk.value}/{self.since.isoformat()}"


@dataclass(frozen=True, slots=True)
class Verdict:
    watch: ValueWatch
    alerts: tuple[Alert, ...] = ()
    ended: datetime | None = None
    """The churn-risk episode that ended now (its start), if one did."""
    passed_over: bool = False
    """Day N was found too late (imported history): decided, nobody reminded."""


def usage(w: ValueWatch, now: datetime, rules: ValueWatchRules) -> Usage:
    today, days = now.astimezone(UTC).date(), rules.usage_window_days
    recent = sum(n for d, n in w.usage.items() if today - timedelta(days=days) < d <= today)
    start = today - timedelta(days=2 * days)
    before = sum(n for d, n in w.usage.items() if start < d <= today - timedelta(days=days))
    return Usage(recent, before)


def tickets_within(w: ValueWatch, now: datetime, span: timedelta) -> int:
    return sum(1 for at, _ in w.tickets if now - span < at <= now)


def detractor(w: ValueWatch, now: datetime, rules: ValueWatchRules) -> bool:
    """The latest NPS answer is a detractor's, given within ``nps_recent_days``."""
    n = w.nps
    return (
        n is not None and n.score <= rules.detractor_max and n.at <= now < n.at + rules.nps_recent
    )


def causes(w: ValueWatch, now: datetime, rules: ValueWatchRules) -> tuple[Cause, ...]:
    """The churn-risk signals that hold at ``now`` (none for a non-customer)."""
    if not w.customer:
        return ()
    out = []
    u = usage(w, now, rules)
    if u.before >= rules.min_usage and u.now <= u.before * (1 - rules.usage_drop_share):
        out.append(Cause.USAGE_DROP)
    if detractor(w, now, rules):
        out.append(Cause.DETRACTOR_NPS)
    if tickets_within(w, now, rules.ticket_window) >= rules.ticket_spike:
        out.append(Cause.TICKET_SPIKE)
    return tuple(out)


def check(w: ValueWatch, now: datetime, rules: ValueWatchRules) -> Verdict:
    """The watch at ``now``: the reminders it calls for and what it remembers of them."""
    alerts: list[Alert] = []
    ended, passed = None, False
    u, tickets = usage(w, now, rules), tickets_within(w, now, rules.ticket_window)
    if (
        w.customer and w.won_at is not None and w.activated_at is None
        and w.early_told_at is None and now >= w.won_at + rules.activation_due
    ):  # fmt: skip
        day_n = w.won_at + rules.activation_due
        w = replace(w, early_told_at=now)
        if now - day_n <= timedelta(days=rules.activation_grace_days):
            alerts.append(Alert(Risk.EARLY_CHURN_RISK, w.account_id, w.contact_id, day_n,
                                (Cause.NOT_ACTIVATED,), u, tickets))  # fmt: skip
        else:
            passed = True
    held = causes(w, now, rules)
    if held and w.episode_since is None:
        w = replace(w, episode_since=now, episodes=w.episodes + 1)
        who = w.nps.contact_id if Cause.DETRACTOR_NPS in held and w.nps else w.contact_id
        alerts.append(Alert(Risk.CHURN_RISK, w.account_id, who, now, held, u, tickets))
    elif not held and w.episode_since is not None:
        ended = w.episode_since
        w = replace(w, episode_since=None)
    return Verdict(replace(w, usage=prune(w.usage, rules, now.astimezone(UTC).date())),
                   tuple(alerts), ended, passed)  # fmt: skip


def next_check(w: ValueWatch, now: datetime, rules: ValueWatchRules) -> datetime | None:
    """The earliest time after ``now`` the verdict may change with no new event; None: only an
    event can change it."""
    if not w.customer:
        return None
    at: list[datetime] = []
    if w.activated_at is None and w.early_told_at is None and w.won_at is not None:
        at.append(max(w.won_at + rules.activation_due, now))
    if sum(w.usage.values()) >= rules.min_usage:  # a window moves at midnight (UTC)
        tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
        at.append(datetime.combine(tomorrow, time(), tzinfo=UTC))
    if w.episode_since is not None:  # a spike ends as its tickets leave the window, and so on
        at += [t + rules.ticket_window for t, _ in w.tickets if t + rules.ticket_window > now]
        if w.nps is not None and w.nps.at + rules.nps_recent > now:
            at.append(w.nps.at + rules.nps_recent)
    return min(at, default=None)
