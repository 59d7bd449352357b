"""The time-to-value watch (pure): the state folds events in any order to the same state; a new
customer not activated by day N is reminded about once, never after activation; a churn-risk
signal reminds once per episode, for any order of events and checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.domain.churn_risk import Cause, Risk, check, next_check, usage
from services.orchestrator.domain.churn_risk_story import story
from services.orchestrator.domain.value_watch import (
    Answer,
    ValueWatch,
    ValueWatchRules,
    from_dict,
    kept_tickets,
    merged,
    observe,
    prune,
    to_dict,
)

WON = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
RULES = ValueWatchRules()
Event = tuple[str, dict[str, Any], datetime, str, str]


def fold(events: list[Event], w: ValueWatch | None = None) -> ValueWatch:
    w = w or ValueWatch("acc")
    for kind, props, at, eid, who in events:
        w = observe(w, kind, props, at, eid, who, RULES)
    return w


def ev(kind: str, day: float, n: int = 0, who: str = "c1", **props: Any) -> Event:
    return (kind, props, WON + timedelta(days=day), f"{kind}-{day}-{n}", who)


def won() -> Event:
    return ev("deal_closed_won", 0, who="champion", deal_id="d1")


# --- early churn: no activation by day N -----------------------------------------------------


@pytest.mark.parametrize(
    ("events", "at_day", "reminded"),
    [
        ([won()], 13.9, False),  # not yet day 14
        ([won()], 14, True),  # day 14, no activation
        ([won()], 20, True),  # found within the grace
        ([won()], 21.5, False),  # found too late (imported history): passed over
        ([won(), ev("product_activated", 3)], 14, False),  # activated before day 14
        ([ev("product_activated", -5), won()], 14, False),  # a trial activated before the win
        ([won(), ev("subscription_cancelled", 5)], 14, False),  # not a customer any more
        ([ev("product_activated", 3)], 14, False),  # never won
    ],
)
def test_a_customer_not_activated_by_day_14_is_at_risk_once(
    events: list[Event], at_day: float, reminded: bool
) -> None:
    verdict = check(fold(events), WON + timedelta(days=at_day), RULES)
    early = [a for a in verdict.alerts if a.risk is Risk.EARLY_CHURN_RISK]
    assert bool(early) is reminded
    if reminded:
        assert early[0].contact_id == "champion" and early[0].causes == (Cause.NOT_ACTIVATED,)
        assert early[0].since == WON + timedelta(days=14)
        again = check(verdict.watch, WON + timedelta(days=at_day, hours=1), RULES)
        assert not again.alerts  # once


def test_the_day_n_check_is_due_at_day_n_and_not_after_activation() -> None:
    w = fold([won()])
    assert next_check(w, WON, RULES) == WON + timedelta(days=14)
    assert next_check(fold([ev("product_activated", 2)], w), WON, RULES) is None


# --- churn risk: usage drop, detractor, ticket spike; once per episode -------------------------


def busy(first: int, last: int, per_day: int = 1) -> list[Event]:
    return [ev("feature_used", d, i) for d in range(first, last) for i in range(per_day)]


def test_usage_falling_by_the_share_opens_one_episode_and_recovery_ends_it() -> None:
    w = fold([won(), ev("product_activated", 1), *busy(1, 31)])  # 30 events over days 1-30
    assert not check(w, WON + timedelta(days=40), RULES).alerts  # 20 against 11: no drop
    later = WON + timedelta(days=55)  # last 30 days: 6 events; the 30 before: 25
    u = usage(w, later, RULES)
    assert u.now <= u.before * 0.6 and u.before >= RULES.min_usage
    first = check(w, later, RULES)
    assert [(a.risk, a.causes) for a in first.alerts] == [(Risk.CHURN_RISK, (Cause.USAGE_DROP,))]
    assert first.watch.episode_since == later and first.watch.episodes == 1
    assert not check(first.watch, later + timedelta(days=1), RULES).alerts  # same episode
    recovered = fold(busy(56, 58, per_day=20), first.watch)
    ended = check(recovered, later + timedelta(days=3), RULES)
    assert ended.ended == later and not ended.alerts and ended.watch.episode_since is None


def test_a_detractor_opens_an_episode_for_the_csm_about_who_answered() -> None:
    w = fold([won(), ev("product_activated", 1), ev("nps_submitted", 30, who="ben", score=3)])
    verdict = check(w, WON + timedelta(days=30), RULES)
    (alert,) = verdict.alerts
    assert alert.causes == (Cause.DETRACTOR_NPS,) and alert.contact_id == "ben"
    assert not check(verdict.watch, WON + timedelta(days=35), RULES).alerts  # same episode
    promoter = fold([ev("nps_submitted", 40, who="ben", score=9)], verdict.watch)
    cleared = check(promoter, WON + timedelta(days=40), RULES)
    assert cleared.ended == WON + timedelta(days=30) and not cleared.alerts
    detractor = fold([ev("nps_submitted", 50, who="ana", score=2)], cleared.watch)
    reopened = check(detractor, WON + timedelta(days=50), RULES)
    assert [(a.risk, a.contact_id) for a in reopened.alerts] == [(Risk.CHURN_RISK, "ana")]
    assert reopened.watch.episodes == 2


def test_a_spike_of_tickets_opens_an_episode_that_ends_when_they_leave_the_window() -> None:
    tickets = [ev("support_ticket_opened", 20 + i / 10, i, ticket_id=f"t{i}") for i in range(3)]
    w = fold([won(), ev("product_activated", 1), *tickets[:2]])
    assert not check(w, WON + timedelta(days=21), RULES).alerts  # two is no spike
    verdict = check(fold(tickets[2:], w), WON + timedelta(days=21), RULES)
    assert [a.causes for a in verdict.alerts] == [(Cause.TICKET_SPIKE,)]
    assert verdict.alerts[0].tickets == 3
    clears = next_check(verdict.watch, WON + timedelta(days=21), RULES)
    assert clears == WON + timedelta(days=27)  # the first ticket leaves the 7-day window
    assert check(verdict.watch, clears, RULES).ended is not None


def test_the_story_carries_the_evidence_a_csm_needs() -> None:
    w = fold([won(), ev("seats_changed", 1, seats=12), ev("nps_submitted", 3, score=5),
              ev("support_ticket_opened", 4, ticket_id="t1")])  # fmt: skip
    (alert,) = [a for a in check(w, WON + timedelta(days=14), RULES).alerts
                if a.risk is Risk.EARLY_CHURN_RISK]  # fmt: skip
    said = [line["said"] for line in story(alert, w, WON + timedelta(days=14), RULES)]
    assert said[0].startswith("is at an account that signed on 02 Mar 2026")
    assert "not activated the product 14 days later" in said[0]
    assert "Seats: 12 (as of 03 Mar 2026)" in said
    assert "Support tickets in the last 30 days: 1" in said
    assert "NPS: 5 on 05 Mar 2026" in said
    assert "No product activity reported yet" in said


def test_the_stored_document_reads_back_as_the_same_watch() -> None:
    w = fold([won(), ev("seats_changed", 1, seats=12), ev("nps_submitted", 3, score=5),
              ev("support_ticket_opened", 4, ticket_id="t1"), *busy(2, 6)])  # fmt: skip
    w = check(w, WON + timedelta(days=14), RULES).watch
    assert from_dict("acc", to_dict(w)) == w
    gone = fold([won(), ev("usage_milestone", 2), ev("subscription_cancelled", 9)])
    doc = to_dict(gone)
    assert (doc["cancelled_at"], doc["first_milestone_at"]) == (
        (WON + timedelta(days=9)).isoformat(), (WON + timedelta(days=2)).isoformat())  # fmt: skip
    assert from_dict("acc", doc) == gone


# --- properties ---------------------------------------------------------------------------------

KINDS = ["deal_closed_won", "product_activated", "usage_milestone", "feature_used",
         "support_ticket_opened", "nps_submitted", "seats_changed", "subscription_cancelled",
         "page_viewed"]  # fmt: skip
events_st = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 90 * 24), st.integers(0, 10),
              st.sampled_from(["a", "b", "c"])),
    min_size=0, max_size=40,
).map(lambda xs: [
    (k, {"score": n, "seats": n, "ticket_id": f"t{i}"}, WON + timedelta(hours=h), f"e{i}", who)
    for i, (k, h, n, who) in enumerate(xs)
])  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(events_st, st.randoms(use_true_random=False))
def test_any_arrival_order_folds_to_the_same_state(events: list[Event], rnd: Any) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert fold(shuffled) == fold(events)


@settings(max_examples=300, deadline=None)
@given(events_st, st.randoms(use_true_random=False), st.lists(st.integers(1, 24 * 5), max_size=30))
def test_one_reminder_per_episode_and_none_after_activation_for_any_order(
    events: list[Event], rnd: Any, gaps: list[int]
) -> None:
    """Events arrive in a random order, checks at random moments between them: churn-risk
    reminders alternate with episode ends (never two in one episode), day N reminds at most
    once, and never once an activation has been seen."""
    arriving = list(events)
    rnd.shuffle(arriving)
    w, now = ValueWatch("acc"), WON
    churn = ended = early = 0
    open_ = False
    for i, e in enumerate(arriving):
        w = fold([e], w)
        now = now + timedelta(hours=gaps[i % len(gaps)] if gaps else 6)
        verdict = check(w, now, RULES)
        for a in verdict.alerts:
            if a.risk is Risk.CHURN_RISK:
                assert not open_  # once per episode
                churn, open_ = churn + 1, True
            else:
                assert w.activated_at is None  # never after activation
                early += 1
        if verdict.ended is not None:
            assert open_ and not any(a.risk is Risk.CHURN_RISK for a in verdict.alerts)
            ended, open_ = ended + 1, False
        w = verdict.watch
        assert (w.episode_since is not None) is open_
    assert early <= 1
    assert churn - ended in (0, 1) and w.episodes == churn


def test_a_detractor_answer_counts_for_nps_recent_days_only() -> None:
    w = fold([won(), ev("product_activated", 1), ev("nps_submitted", 10, score=2)])
    verdict = check(w, WON + timedelta(days=11), RULES)
    assert [a.causes for a in verdict.alerts] == [(Cause.DETRACTOR_NPS,)]
    ends = next_check(verdict.watch, WON + timedelta(days=11), RULES)
    assert ends == WON + timedelta(days=100)  # the answer stops counting after 90 days
    assert check(verdict.watch, ends, RULES).ended == WON + timedelta(days=11)
    old = fold([won(), ev("nps_submitted", -200, score=0)])  # imported: long before
    assert not [a for a in check(old, WON, RULES).alerts if a.risk is Risk.CHURN_RISK]


@settings(max_examples=200, deadline=None)
@given(events_st, st.integers(0, 40))
def test_merging_two_records_of_one_company_is_folding_all_their_events(
    events: list[Event], cut: int
) -> None:
    one, two = events[:cut], events[cut:]
    assert merged(fold(one), fold(two, ValueWatch("other")), RULES) == fold(events)


def test_a_merge_keeps_the_earliest_wins_contact_else_the_least_id() -> None:
    later = WON + timedelta(days=1)
    lead, deal = ValueWatch("acc", contact_id="a"), ValueWatch("x", "z", WON, WON)
    assert merged(lead, deal, RULES).contact_id == "z"  # only the loser won: its deal contact
    assert merged(ValueWatch("acc", "z", WON, WON), ValueWatch("x", "a", later, later),
                  RULES).contact_id == "z"  # fmt: skip
    assert merged(ValueWatch("acc", "a", WON, WON), ValueWatch("x", "z", WON, WON),
                  RULES).contact_id == "a"  # fmt: skip  # same instant: the least id


def test_a_merge_keeps_a_reminder_told_an_open_episode_and_the_most_episodes() -> None:
    told, opened = WON + timedelta(days=14), WON + timedelta(days=30)
    s = ValueWatch("acc", early_told_at=told, episodes=1)
    x = ValueWatch("x", episode_since=opened, episodes=3)
    m = merged(s, x, RULES)
    assert (m.early_told_at, m.episode_since, m.episodes) == (told, opened, 3)
    m = merged(ValueWatch("acc", episode_since=opened), ValueWatch("x", early_told_at=told), RULES)
    assert (m.early_told_at, m.episode_since) == (told, opened)


def test_a_merge_keeps_the_latest_nps_answer() -> None:
    old = Answer(WON + timedelta(days=1), "e1", 2, "ben")
    new = Answer(WON + timedelta(days=5), "e2", 9, "pat")
    assert merged(ValueWatch("acc", nps=new), ValueWatch("x", nps=old), RULES).nps == new
    assert merged(ValueWatch("acc", nps=old), ValueWatch("x", nps=new), RULES).nps == new


def test_wins_at_one_instant_keep_the_least_contact_in_either_order() -> None:
    b, a = ev("deal_closed_won", 0, who="bea"), ev("deal_closed_won", 0, 1, who="abe")
    assert fold([b, a]).contact_id == fold([a, b]).contact_id == "abe"
    assert fold([ev("feature_used", 1, who="bea"), ev("page_viewed", 2, who="abe")]).contact_id == (
        "abe"  # before any win: the least id seen
    )


def test_the_fold_keeps_the_latest_cancel_and_activity_and_counts_each_usage_event() -> None:
    cancels = [ev("subscription_cancelled", 5), ev("subscription_cancelled", 3)]
    w = fold([*cancels, ev("feature_used", 2, 1), ev("feature_used", 2, 2), ev("feature_used", 1)])
    assert w.cancelled_at == WON + timedelta(days=5)
    assert w.last_activity == WON + timedelta(days=2)
    assert w.usage == {(WON + timedelta(days=2)).date(): 2, (WON + timedelta(days=1)).date(): 1}


def test_an_nps_score_or_seat_count_that_is_not_a_whole_number_is_ignored() -> None:
    odd = [ev("nps_submitted", 1, score="9"), ev("nps_submitted", 2, score=True),
           ev("seats_changed", 1, seats="12"), ev("seats_changed", 2, seats=True)]  # fmt: skip
    assert (fold(odd).nps, fold(odd).seats) == (None, None)


def test_tickets_are_kept_less_than_30_days_before_the_newest_and_usage_59_days() -> None:
    t = WON
    assert kept_tickets({(t, "old"), (t + timedelta(days=30), "new")}, RULES) == (
        (t + timedelta(days=30), "new"),
    )
    last = WON.date()
    days = {last - timedelta(days=60): 1, last - timedelta(days=59): 2, last: 3}
    assert prune(days, RULES) == {last - timedelta(days=59): 2, last: 3}
