"""The churn-risk verdict at its edges (pure): which usage days fall in which window, a drop,
a detractor and a ticket spike exactly at their thresholds, day N found exactly at the end of
the grace, and when the next check is due. Every figure is worked out from the default rules
(30-day usage windows, min 10 events, a 40% fall, 3 tickets in 7 days, detractor <= 6, NPS
counted 90 days, day 14, grace 7 days)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.orchestrator.domain.churn_risk import (
    Cause,
    Risk,
    Usage,
    causes,
    check,
    next_check,
    tickets_within,
    usage,
)
from services.orchestrator.domain.value_watch import Answer, ValueWatch, ValueWatchRules

RULES = ValueWatchRules()
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
TODAY = NOW.date()
DAY = timedelta(days=1)
MIDNIGHT = datetime(2026, 6, 16, tzinfo=UTC)


def customer(**fields: Any) -> ValueWatch:
    """A customer won 100 days ago and activated the next day (no day-N reminder due)."""
    won = NOW - 100 * DAY
    fields = {"activated_at": won + DAY, **fields}
    return ValueWatch("acc", contact_id="champion", won_at=won, last_won_at=won, **fields)


def test_each_usage_window_is_the_30_days_up_to_and_including_its_last() -> None:
    days = {0: 1, 29: 2, 30: 4, 59: 8, 60: 16, 90: 32, -1: 64}  # days ago -> events
    w = customer(usage={TODAY - n * DAY: k for n, k in days.items()})
    # last window: today and 29 days ago (1 + 2); the one before: 30 and 59 days ago (4 + 8);
    # 60 and 90 days ago are older than both, tomorrow has not happened
    assert usage(w, NOW, RULES) == Usage(3, 12)


def test_a_drop_to_exactly_60_percent_of_exactly_min_usage_is_a_drop() -> None:
    def fell(before: int, now: int) -> tuple[Cause, ...]:
        return causes(customer(usage={TODAY - 45 * DAY: before, TODAY: now}), NOW, RULES)

    assert fell(10, 6) == (Cause.USAGE_DROP,)  # 6 <= 10 * (1 - 0.4)
    assert fell(10, 7) == ()  # 7 > 6: a fall of 30% only
    assert fell(9, 0) == ()  # too little usage before for a fall to mean anything


def test_a_six_is_a_detractor_and_a_seven_is_not() -> None:
    def said(score: int) -> tuple[Cause, ...]:
        return causes(customer(nps=Answer(NOW - DAY, "e", score, "ben")), NOW, RULES)

    assert said(6) == (Cause.DETRACTOR_NPS,)
    assert said(7) == ()


def test_the_ticket_window_holds_now_and_not_its_first_instant() -> None:
    w = customer(tickets=((NOW - 7 * DAY, "t0"), (NOW - DAY, "t1"), (NOW, "t2")))
    assert tickets_within(w, NOW, RULES.ticket_window) == 2  # t1 and t2; t0 just left


def test_day_n_found_exactly_at_the_end_of_the_grace_still_reminds() -> None:
    won = NOW - 21 * DAY  # day 14 was 7 days ago: exactly the grace
    tickets = ((NOW - 2 * DAY, "t1"), (NOW - DAY, "t2"))
    w = ValueWatch("acc", contact_id="champion", won_at=won, last_won_at=won, tickets=tickets)
    verdict = check(w, NOW, RULES)
    (alert,) = verdict.alerts
    assert (alert.risk, alert.since, alert.tickets) == (Risk.EARLY_CHURN_RISK, won + 14 * DAY, 2)
    assert verdict.passed_over is False and verdict.watch.early_told_at == NOW
    late = check(w, NOW + timedelta(seconds=1), RULES)
    assert late.alerts == () and late.passed_over is True


def test_an_ordinary_check_passes_nothing_over() -> None:
    assert check(customer(), NOW, RULES).passed_over is False


def test_a_spike_reminds_about_the_deal_contact_not_an_earlier_promoter() -> None:
    spike = tuple((NOW - k * timedelta(hours=1), f"t{k}") for k in range(3))
    w = customer(tickets=spike, nps=Answer(NOW - 5 * DAY, "e", 9, "pat"))
    (alert,) = check(w, NOW, RULES).alerts
    assert alert.causes == (Cause.TICKET_SPIKE,) and alert.contact_id == "champion"


def test_the_checked_watch_keeps_only_the_two_windows_before_today() -> None:
    w = customer(usage={TODAY - 60 * DAY: 5, TODAY - 59 * DAY: 3})
    assert check(w, NOW, RULES).watch.usage == {TODAY - 59 * DAY: 3}


def test_exactly_min_usage_events_make_the_next_check_midnight() -> None:
    assert next_check(customer(usage={TODAY: 10}), NOW, RULES) == MIDNIGHT
    assert next_check(customer(usage={TODAY: 9}), NOW, RULES) is None


def test_in_an_episode_the_earliest_of_midnight_and_a_ticket_leaving_is_next() -> None:
    w = customer(usage={TODAY: 10}, tickets=((NOW - DAY, "t"),), episode_since=NOW - DAY)
    assert next_check(w, NOW, RULES) == MIDNIGHT  # before the ticket leaves (in 6 days)


def test_a_ticket_or_an_answer_that_stops_counting_now_is_not_a_later_check() -> None:
    w = customer(
        tickets=((NOW - 7 * DAY, "t"),),
        nps=Answer(NOW - 90 * DAY, "e", 2, "ben"),
        episode_since=NOW - 7 * DAY,
    )
    assert next_check(w, NOW, RULES) is None
