"""Time to first value, pinned on a small hand-computed history: days from closed-won to
activation and to the first usage milestone per account, and their medians per closed-won
month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.orchestrator.domain.time_to_value import (
    TimeToValue,
    days_between,
    from_history,
    median_days_by_cohort,
    time_to_value,
)
from services.orchestrator.domain.value_watch import ValueWatch, ValueWatchRules, observe


def t(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


HISTORY = [  # (account, event, at); shuffled on purpose: order must not matter
    (
        "acme",
        "usage_milestone",
        t(3, 12),
    ),  # acme: won 2 Mar; activated 5 Mar 12:00; milestone 12 Mar
    ("acme", "deal_closed_won", t(3, 2)),
    ("acme", "product_activated", t(3, 5, 12)),
    ("acme", "usage_milestone", t(3, 20)),  # not the first
    ("globex", "product_activated", t(2, 20)),  # a trial: activated before the win -> day 0
    ("globex", "deal_closed_won", t(3, 10)),
    ("globex", "usage_milestone", t(3, 17)),  # 7 days
    ("initech", "deal_closed_won", t(3, 30)),  # never activated
    ("umbrella", "deal_closed_won", t(4, 1)),
    ("umbrella", "product_activated", t(4, 11)),  # 10 days
    ("umbrella", "usage_milestone", t(4, 30)),  # 29 days
    ("hooli", "product_activated", t(4, 2)),  # never won: no time to value
]


def test_days_to_activation_and_first_milestone_per_account() -> None:
    got = from_history(HISTORY)
    assert got == {
        "acme": TimeToValue("acme", t(3, 2), 3.5, 10.0),
        "globex": TimeToValue("globex", t(3, 10), 0.0, 7.0),
        "initech": TimeToValue("initech", t(3, 30), None, None),
        "umbrella": TimeToValue("umbrella", t(4, 1), 10.0, 29.0),
    }


def test_the_watch_state_gives_the_same_days_as_the_history() -> None:
    rules = ValueWatchRules()
    watches: dict[str, ValueWatch] = {}
    for i, (account, kind, at) in enumerate(reversed(HISTORY)):
        w = watches.get(account) or ValueWatch(account)
        watches[account] = observe(w, kind, {}, at, f"e{i}", "c", rules)
    from_state = {a: v for a, w in watches.items() if (v := time_to_value(w)) is not None}
    assert from_state == from_history(HISTORY)


def test_median_time_to_first_value_per_closed_won_month() -> None:
    values = list(from_history(HISTORY).values())
    # March: acme 3.5, globex 0 (initech not yet) -> median 1.75; April: umbrella 10
    assert median_days_by_cohort(values) == {"2026-03": 1.75, "2026-04": 10.0}
    assert median_days_by_cohort(values, milestone=True) == {"2026-03": 8.5, "2026-04": 29.0}
    late = TimeToValue("x", t(5, 1) - timedelta(hours=1), None, None)  # 30 Apr 23:00 UTC
    assert median_days_by_cohort([late]) == {"2026-04": None}


def test_days_keep_two_decimals_and_a_second_win_does_not_restart_the_clock() -> None:
    assert days_between(t(3, 2), t(3, 2, 8)) == 0.33  # 8 h = 1/3 day
    assert days_between(t(3, 2), None) is None
    history = [
        ("acme", "deal_closed_won", t(3, 2)),
        ("acme", "deal_closed_won", t(5, 1)),  # a renewal / second deal: the first win counts
        ("acme", "product_activated", t(3, 6)),
    ]
    assert from_history(history)["acme"] == TimeToValue("acme", t(3, 2), 4.0, None)
