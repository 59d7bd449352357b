"""Time to first value (pure): per account, the days from closed-won to ``product_activated``
and to the first ``usage_milestone``; per cohort (the closed-won month), their medians.

The funnel's "median time to first value per cohort" is ``median_days_by_cohort`` over
``time_to_value`` of each watched account (``value_watches`` keeps the three times, so the KPI
reads one row per customer). A product activated before the deal closed (a trial) is value on
day 0, not a negative number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median

from services.orchestrator.domain.value_watch import ACTIVATED, MILESTONE, WON, ValueWatch

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TimeToValue:
    account_id: str
    won_at: datetime
    days_to_activation: float | None
    """None: not activated (yet)."""
    days_to_first_milestone: float | None

    @property
    def cohort(self) -> str:
        """The closed-won month, ``YYYY-MM`` (UTC)."""
        return f"{self.won_at.astimezone(UTC):%Y-%m}"


def days_between(won: datetime, at: datetime | None) -> float | None:
    """Days from the win to ``at`` (two decimals; before the win is day 0; None: not yet)."""
    return None if at is None else round(max(at - won, timedelta(0)) / DAY, 2)


def time_to_value(w: ValueWatch) -> TimeToValue | None:
    """The account's days to value from its first closed-won (None: never won)."""
    if w.won_at is None:
        return None
    return TimeToValue(
        w.account_id, w.won_at, days_between(w.won_at, w.activated_at),
        days_between(w.won_at, w.first_milestone_at),
    )  # fmt: skip


def median_days_by_cohort(
    values: Iterable[TimeToValue], milestone: bool = False
) -> dict[str, float | None]:
    """Per closed-won month, the median days to activation (``milestone``: to the first usage
    milestone) over the accounts that got there; None for a cohort where none has yet."""
    cohorts: dict[str, list[float]] = {}
    for v in values:
        days = v.days_to_first_milestone if milestone else v.days_to_activation
        cohorts.setdefault(v.cohort, [])
        if days is not None:
            cohorts[v.cohort].append(days)
    return {c: (median(d) if d else None) for c, d in sorted(cohorts.items())}


def from_history(events: Iterable[tuple[str, str, datetime]]) -> dict[str, TimeToValue]:
    """(account, event type, occurred at) in any order -> each won account's time to value."""
    won: dict[str, datetime] = {}
    first: dict[tuple[str, str], datetime] = {}
    for account, kind, at in events:
        if kind == WON:
            won[account] = min(at, won.get(account, at))
        elif kind in (ACTIVATED, MILESTONE):
            first[(account, kind)] = min(at, first.get((account, kind), at))
    return {
        a: TimeToValue(
            a,
            w,
            days_between(w, first.get((a, ACTIVATED))),
            days_between(w, first.get((a, MILESTONE))),
        )
        for a, w in sorted(won.items())
    }
