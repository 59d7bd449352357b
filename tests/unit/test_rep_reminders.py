"""Rep reminder rules and the reminder life cycle (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.orchestrator.domain.reminders import (
    FINAL,
    InvalidTransition,
    Reminder,
    ReminderAction,
    ReminderNeed,
    ReminderReason,
    ReminderStatus,
    Signal,
    in_words,
    remindable,
    reminders_needed,
    renewal_date,
    transition,
)
from services.orchestrator.domain.touch_log import pick_rep, stable_id

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def sig(eid: str, contact: str, kind: str, **props: Any) -> Signal:
    return Signal(eid, contact, "acc", kind, props, NOW)


@pytest.mark.parametrize(
    ("kind", "props", "reason"),
    [
        ("demo_requested", {}, ReminderReason.DEMO_REQUESTED),
        ("contact_sales_requested", {"topic": "pricing"}, ReminderReason.CONTACT_SALES),
        ("nps_submitted", {"score": 0}, ReminderReason.NPS_DETRACTOR),
        ("nps_submitted", {"score": 6}, ReminderReason.NPS_DETRACTOR),
    ],
)
def test_each_rule_asks_for_a_reminder_with_its_evidence(
    kind: str, props: dict[str, Any], reason: ReminderReason
) -> None:
    (need,) = reminders_needed([sig("e1", "c1", kind, **props)], set(), set(), {})
    assert (need.contact_id, need.reason, need.evidence) == ("c1", reason, ("e1",))
    assert need.talking_points


@pytest.mark.parametrize("score", [7, 9, 10])
def test_a_passive_or_promoter_nps_does_not_call_the_rep(score: int) -> None:
    assert reminders_needed([sig("e1", "c1", "nps_submitted", score=score)], set(), set(), {}) == []


def test_a_demo_request_that_makes_a_contact_sql_is_one_reminder_not_two() -> None:
    needs = reminders_needed([sig("e1", "c1", "demo_requested")], {"c1"}, set(), {})
    assert [n.reason for n in needs] == [ReminderReason.DEMO_REQUESTED]


def test_becoming_sql_without_a_request_calls_the_rep() -> None:
    needs = reminders_needed([sig("e1", "c1", "crm_lead_status_changed")], {"c1"}, set(), {})
    assert [n.reason for n in needs] == [ReminderReason.BECAME_SQL]


def test_pricing_views_by_two_stakeholders_of_an_mql_account_make_one_reminder() -> None:
    viewers = {"acc": {"c1": "e1", "c2": "e2"}}
    (need,) = reminders_needed([], set(), {"acc"}, viewers)
    assert need.reason is ReminderReason.PRICING_COMMITTEE and need.evidence == ("e1", "e2")
    assert reminders_needed([], set(), set(), viewers) == [], "not while the account is not MQL"
    assert reminders_needed([], set(), {"acc"}, {"acc": {"c1": "e1"}}) == [], "one is not enough"


def test_the_same_contact_and_reason_twice_in_a_batch_is_one_reminder() -> None:
    needs = reminders_needed(
        [sig("e1", "c1", "demo_requested"), sig("e2", "c1", "demo_requested")], set(), set(), {}
    )
    assert len(needs) == 1 and needs[0].evidence == ("e1",)


def test_a_reminder_is_acknowledged_snoozed_woken_and_done() -> None:
    r = transition(Reminder(), ReminderAction.ACKNOWLEDGE, NOW)
    r = transition(r, ReminderAction.SNOOZE, NOW, until=NOW + timedelta(hours=2))
    assert r == Reminder(ReminderStatus.SNOOZED, NOW + timedelta(hours=2))
    with pytest.raises(InvalidTransition):
        transition(r, ReminderAction.WAKE, NOW + timedelta(hours=1))
    r = transition(r, ReminderAction.WAKE, NOW + timedelta(hours=2))
    assert r.status is ReminderStatus.OPEN
    assert transition(r, ReminderAction.COMPLETE, NOW).status is ReminderStatus.DONE


def test_a_snooze_must_end_in_the_future() -> None:
    with pytest.raises(InvalidTransition):
        transition(Reminder(), ReminderAction.SNOOZE, NOW, until=NOW)


@given(st.lists(st.sampled_from(list(ReminderAction)), max_size=12))
def test_done_and_expired_reminders_never_change_again(actions: list[ReminderAction]) -> None:
    r, final_seen = Reminder(), None
    for i, action in enumerate(actions):
        at = NOW + timedelta(hours=i)
        try:
            r = transition(r, action, at, until=at + timedelta(minutes=30))
        except InvalidTransition:
            continue
        if final_seen is not None:
            raise AssertionError(f"{final_seen} changed to {r.status}")
        if r.status in FINAL:
            final_seen = r.status
    assert r.status in ReminderStatus


@given(st.text(min_size=1), st.lists(st.emails(), min_size=1, max_size=5, unique=True))
def test_the_round_robin_rep_is_a_pool_member_and_the_same_for_one_account(
    account: str, pool: list[str]
) -> None:
    rep = pick_rep(tuple(pool), account)
    assert rep in pool and rep == pick_rep(tuple(pool), account)


def test_ids_are_stable_and_fit_the_touch_id_column() -> None:
    a = stable_id("t_", "c1", "seq", "step", NOW.isoformat())
    assert a == stable_id("t_", "c1", "seq", "step", NOW.isoformat()) and len(a) <= 64
    assert a != stable_id("t_", "c1", "seq", "step2", NOW.isoformat())


def test_a_renewal_date_asks_for_one_reminder_per_account_due_ahead_of_it() -> None:
    signals = [
        sig("e1", "c1", "usage_milestone", renewal_date="2027-03-01"),
        sig("e2", "c2", "seats_changed", renewal_date="2027-03-01T00:00:00Z"),
    ]
    (need,) = reminders_needed(signals, set(), set(), {}, timedelta(days=60))
    assert need.reason is ReminderReason.RENEWAL_WINDOW and need.evidence == ("e1",)
    assert need.due_from == datetime(2026, 12, 31, tzinfo=UTC)
    assert need.dedup_key == "acc/renewal/2027-03-01"


@pytest.mark.parametrize("raw", ["soon", 20270301, None, "2027-13-01"])
def test_an_unreadable_renewal_date_asks_for_nothing(raw: object) -> None:
    assert (
        reminders_needed([sig("e1", "c1", "seats_changed", renewal_date=raw)], set(), set(), {})
        == []
    )


def test_a_reminder_tells_the_rep_what_happened_in_words_not_ids() -> None:
    at = datetime(2026, 11, 18, 11, 55, tzinfo=UTC)
    signals = [
        Signal("evt-9", "c1", "a1", "demo_requested", {"notes": "team of 40"}, at),
        Signal("evt-10", "c2", "a1", "nps_submitted", {"score": 3, "comment": "slow"}, at),
    ]
    needs = {n.reason: n for n in reminders_needed(signals, set(), set(), {})}
    demo = needs[ReminderReason.DEMO_REQUESTED]
    assert demo.evidence == ("evt-9",)  # the ids stay for deduplication
    assert demo.story == ({"said": "requested a demo (team of 40)", "at": at.isoformat()},)
    detractor = needs[ReminderReason.NPS_DETRACTOR].story
    assert detractor == ({"said": 'answered the NPS survey with 3: "slow"', "at": at.isoformat()},)
    assert not any("evt-" in str(words) for n in needs.values() for words in n.story)


def test_a_rule_based_reminder_carries_the_contacts_account() -> None:
    (need,) = reminders_needed([sig("e1", "c1", "demo_requested")], set(), set(), {})
    assert need.account_id == "acc"


def test_a_renewal_reminder_names_the_contact_the_account_and_the_date_in_words() -> None:
    s = sig("e1", "c1", "seats_changed", renewal_date="2027-03-01T09:00:00Z")
    assert reminders_needed([s], set(), set(), {}, timedelta(days=60)) == [
        ReminderNeed("c1", "acc", ReminderReason.RENEWAL_WINDOW, ("e1",),
                     due_from=datetime(2026, 12, 31, tzinfo=UTC),
                     dedup_key="acc/renewal/2027-03-01",
                     story=({"said": "has a renewal on 01 Mar 2027 (seen when they changed "
                                     "the number of seats)", "at": NOW.isoformat()},)),
    ]  # fmt: skip


def test_two_accounts_renewing_get_a_reminder_each() -> None:
    signals = [
        Signal("e1", "c1", "a1", "seats_changed", {"renewal_date": "2027-03-01"}, NOW),
        Signal("e2", "c2", "a2", "seats_changed", {"renewal_date": "2027-03-01"}, NOW),
    ]
    needs = reminders_needed(signals, set(), set(), {})
    assert [(n.account_id, n.contact_id) for n in needs] == [("a1", "c1"), ("a2", "c2")]


def test_a_pricing_committee_reminder_goes_to_the_first_viewer_with_the_count_in_words() -> None:
    viewers = {"a1": {"c2": "e2", "c1": "e1"}, "a2": {"c3": "e3", "c4": "e4"}}
    view = Signal("e1", "c1", "a1", "page_viewed", {"path": "/pricing"}, NOW)
    said = "was one of 2 people at the account to view pricing lately"
    assert reminders_needed([view], set(), {"a1", "a2"}, viewers) == [
        ReminderNeed("c1", "a1", ReminderReason.PRICING_COMMITTEE, ("e1", "e2"),
                     story=({"said": said, "at": NOW.isoformat()},)),
        ReminderNeed("c3", "a2", ReminderReason.PRICING_COMMITTEE, ("e3", "e4"),
                     story=({"said": said},)),
    ]  # fmt: skip


LONG = "x" * 200


@pytest.mark.parametrize(
    ("kind", "props", "words"),
    [
        ("nps_submitted", {"score": 2, "comment": f" {LONG} "},
         f'answered the NPS survey with 2: "{LONG[:140]}"'),
        ("nps_submitted", {"score": 8, "comment": "  "}, "answered the NPS survey with 8"),
        ("page_viewed", {"path": "/pricing", "url": "https://x.example/p"}, "viewed /pricing"),
        ("page_viewed", {"url": "https://x.example/p"}, "viewed https://x.example/p"),
        ("page_viewed", {}, "viewed a page"),
        ("content_downloaded", {"title": "ROI guide", "content_type": "pdf"},
         "downloaded ROI guide"),
        ("content_downloaded", {"content_type": "whitepaper"}, "downloaded whitepaper"),
        ("content_downloaded", {}, "downloaded content"),
        ("meeting_booked", {"topic": "pricing", "notes": "n"}, "booked a meeting (pricing)"),
        ("usage_milestone", {"milestone": "100 users"}, "reached a usage milestone (100 users)"),
        ("form_submitted", {"notes": f" {LONG}"}, f"submitted a form ({LONG[:140]})"),
        ("trial_extended", {"topic": " "}, "trial extended"),
    ],
)  # fmt: skip
def test_each_engagement_reads_as_a_sentence_with_its_detail_and_time(
    kind: str, props: dict[str, Any], words: str
) -> None:
    assert in_words(Signal("e1", "c1", "acc", kind, props, NOW)) == (
        f"{words} on 18 Nov 2026 at 12:00 UTC"
    )


@pytest.mark.parametrize(
    ("raw", "day"),
    [("2027-03-01", date(2027, 3, 1)), ("2027-03-01T09:00:00Z", date(2027, 3, 1)), ("03/01", None)],
)
def test_a_renewal_date_is_read_from_an_iso_date_or_timestamp(raw: str, day: date | None) -> None:
    assert renewal_date({"renewal_date": raw}) == day


@pytest.mark.parametrize(
    ("reminder", "action", "until", "message"),
    [
        (Reminder(ReminderStatus.DONE), ReminderAction.ACKNOWLEDGE, None,
         "cannot acknowledge a done reminder"),
        (Reminder(), ReminderAction.SNOOZE, NOW, "snooze needs a time in the future"),
        (Reminder(ReminderStatus.SNOOZED, NOW + timedelta(hours=1)), ReminderAction.WAKE, None,
         "still snoozed"),
    ],
)  # fmt: skip
def test_a_refused_action_says_why(
    reminder: Reminder, action: ReminderAction, until: datetime | None, message: str
) -> None:
    with pytest.raises(InvalidTransition) as refused:
        transition(reminder, action, NOW, until)
    assert str(refused.value) == message


def test_acknowledging_a_snoozed_reminder_ends_the_snooze() -> None:
    snoozed = Reminder(ReminderStatus.SNOOZED, NOW + timedelta(hours=1))
    assert transition(snoozed, ReminderAction.ACKNOWLEDGE, NOW) == Reminder(
        ReminderStatus.ACKNOWLEDGED
    )


def test_a_plan_that_does_not_remind_late_keeps_only_fresh_hand_raises() -> None:
    old = Signal("e1", "c1", "a1", "demo_requested", {}, NOW - timedelta(days=60))
    new = Signal("e2", "c2", "a1", "demo_requested", {}, NOW - timedelta(minutes=3))
    needs = reminders_needed([old, new], set(), set(), {})
    day = timedelta(hours=24)
    assert remindable(needs, NOW, day, remind_late=True) == needs
    assert [n.contact_id for n in remindable(needs, NOW, day, remind_late=False)] == ["c2"]
