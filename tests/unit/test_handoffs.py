"""Handoffs (pure): deadlines in working hours across nights, weekends and zones; which moves
hand an account over; the breach -> escalation clock firing each step exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.domain.handoff_story import owners_in_words
from services.orchestrator.domain.handoffs import (
    DEFAULT_SLAS,
    DEFAULT_STAGE_TEAMS,
    Handoff,
    HandoffKind,
    HandoffSla,
    HandoffStep,
    TeamConfig,
    TeamMember,
    TeamOwner,
    add_working_time,
    crm_team_claim,
    deadline,
    due_steps,
    escalation_target,
    handoff_id,
    handoff_kind,
    least_loaded_member,
    working_length,
)
from services.orchestrator.domain.quiet_hours import SendWindow
from services.orchestrator.domain.stages import Stage

NINE_TO_FIVE = SendWindow(days=frozenset(range(5)), start=time(9), end=time(17))
BERLIN, CHICAGO = ZoneInfo("Europe/Berlin"), ZoneInfo("America/Chicago")


def test_four_business_hours_from_friday_afternoon_end_on_monday_morning() -> None:
    friday_3pm = datetime(2026, 11, 27, 15, tzinfo=BERLIN)  # a Friday
    due = add_working_time(friday_3pm, timedelta(hours=4), NINE_TO_FIVE, BERLIN)
    assert due == datetime(2026, 11, 30, 11, tzinfo=BERLIN)  # 2 h Friday + 2 h Monday


def test_a_saturday_start_counts_from_monday_opening() -> None:
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    due = add_working_time(saturday, timedelta(hours=1), NINE_TO_FIVE, CHICAGO)
    assert due == datetime(2026, 11, 30, 10, tzinfo=CHICAGO)


def test_the_same_instant_has_different_deadlines_in_different_zones() -> None:
    at = datetime(2026, 11, 25, 16, tzinfo=UTC)  # Wed: 17:00 in Berlin (closed), 10:00 Chicago
    assert add_working_time(at, timedelta(hours=1), NINE_TO_FIVE, BERLIN) == datetime(
        2026, 11, 26, 10, tzinfo=BERLIN
    )
    assert add_working_time(at, timedelta(hours=1), NINE_TO_FIVE, CHICAGO) == datetime(
        2026, 11, 25, 11, tzinfo=CHICAGO
    )


def test_one_business_day_is_the_same_time_next_working_day() -> None:
    thursday_10 = datetime(2026, 11, 26, 10, tzinfo=BERLIN)
    sla = HandoffSla(business_days=1, escalate_after_hours=4)
    due, escalate = deadline(thursday_10, sla, NINE_TO_FIVE, BERLIN)
    assert due == datetime(2026, 11, 27, 10, tzinfo=BERLIN)
    assert escalate == datetime(2026, 11, 27, 14, tzinfo=BERLIN)
    # two business days from Thursday 10:00 skip the weekend
    due2, _ = deadline(thursday_10, HandoffSla(business_days=2), NINE_TO_FIVE, BERLIN)
    assert due2 == datetime(2026, 11, 30, 10, tzinfo=BERLIN)


def test_working_time_across_a_dst_change_counts_wall_hours() -> None:
    # Berlin leaves summer time on Sunday 25 Oct 2026; Friday 16:00 + 2 h -> Monday 10:00
    friday = datetime(2026, 10, 23, 16, tzinfo=BERLIN)
    assert add_working_time(friday, timedelta(hours=2), NINE_TO_FIVE, BERLIN) == datetime(
        2026, 10, 26, 10, tzinfo=BERLIN
    )


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1)),
    minutes=st.integers(min_value=0, max_value=60 * 40),
    zone=st.sampled_from(["Europe/Berlin", "America/Chicago", "Asia/Kolkata", "UTC"]),
)
def test_working_time_lands_inside_the_window_and_grows_with_the_amount(
    start: datetime, minutes: int, zone: str
) -> None:
    tz = ZoneInfo(zone)
    at = start.replace(tzinfo=UTC)
    due = add_working_time(at, timedelta(minutes=minutes), NINE_TO_FIVE, tz)
    assert due >= at + timedelta(minutes=minutes)
    local = due.astimezone(tz)
    assert local.weekday() < 5 and time(9) <= local.time() <= time(17)
    later = add_working_time(at, timedelta(minutes=minutes + 30), NINE_TO_FIVE, tz)
    assert later > due


def test_working_length_of_a_window() -> None:
    assert working_length(NINE_TO_FIVE) == timedelta(hours=8)
    assert working_length(SendWindow(start=time(20))) == timedelta(hours=4)
    assert working_length(SendWindow(start=time(8, 15), end=time(17, 30))) == timedelta(
        hours=9, minutes=15
    )


def test_a_zone_ahead_of_utc_counts_its_own_working_day() -> None:
    """08:00 in Tokyo is 23:00 UTC the day before: the day closes at 17:00 Tokyo time."""
    tokyo = ZoneInfo("Asia/Tokyo")
    monday_8am = datetime(2026, 11, 30, 8, tzinfo=tokyo)
    window = SendWindow(days=frozenset(range(5)), start=time(8), end=time(17))
    due = add_working_time(monday_8am, timedelta(hours=10), window, tokyo)
    assert due == datetime(2026, 12, 1, 9, tzinfo=tokyo)  # 9 h Monday + 1 h Tuesday


def test_a_window_open_until_midnight_carries_over_to_the_next_evening() -> None:
    evenings = SendWindow(start=time(18))  # every day 18:00-24:00
    monday_8pm = datetime(2026, 11, 30, 20, tzinfo=UTC)
    due = add_working_time(monday_8pm, timedelta(hours=6), evenings, ZoneInfo("UTC"))
    assert due == datetime(2026, 12, 1, 20, tzinfo=UTC)  # 4 h Monday + 2 h Tuesday


def test_working_time_stops_after_ten_thousand_windows() -> None:
    """A one-hour daily window: 10,000 hours take 10,000 windows; one hour more is refused."""
    one_hour = SendWindow(start=time(23))
    start = datetime(2026, 11, 30, 23, tzinfo=UTC)
    due = add_working_time(start, timedelta(hours=10_000), one_hour, ZoneInfo("UTC"))
    assert due == start + timedelta(days=9_999, hours=1)
    with pytest.raises(ValueError, match=r"^working time too long$"):
        add_working_time(start, timedelta(hours=10_001), one_hour, ZoneInfo("UTC"))


@pytest.mark.parametrize(
    ("left", "entered", "kind"),
    [
        (Stage.ENGAGED, Stage.MQL, HandoffKind.MQL_ACCEPT),
        (Stage.MQL, Stage.SQL, HandoffKind.SQL_FIRST_CONTACT),
        (Stage.ENGAGED, Stage.SQL, HandoffKind.SQL_FIRST_CONTACT),
        (Stage.OPPORTUNITY, Stage.ONBOARDING, HandoffKind.CSM_KICKOFF),
        (None, Stage.ONBOARDING, HandoffKind.CSM_KICKOFF),
        (Stage.SQL, Stage.OPPORTUNITY, None),  # same team
        (Stage.ONBOARDING, Stage.RETAINED, None),
        (Stage.SQL, Stage.MQL, None),  # backwards
        (Stage.MQL, Stage.MQL, None),  # not a move forward
        (Stage.SQL, Stage.SQL, None),
        (Stage.ONBOARDING, Stage.ONBOARDING, None),
    ],
)
def test_which_moves_hand_an_account_over(
    left: Stage | None, entered: Stage, kind: HandoffKind | None
) -> None:
    assert handoff_kind(left, entered, DEFAULT_STAGE_TEAMS) == kind


def test_a_team_owning_both_stages_hands_nothing_over() -> None:
    teams = {**DEFAULT_STAGE_TEAMS, Stage.MQL: "sales"}
    assert handoff_kind(Stage.MQL, Stage.SQL, teams) is None
    assert handoff_kind(Stage.ENGAGED, Stage.MQL, teams) is HandoffKind.MQL_ACCEPT


def test_handoff_ids_are_per_account_kind_and_episode() -> None:
    a = handoff_id("acc1", HandoffKind.CSM_KICKOFF, "ev1")
    assert a == handoff_id("acc1", HandoffKind.CSM_KICKOFF, "ev1")
    assert a != handoff_id("acc1", HandoffKind.CSM_KICKOFF, "ev2")
    assert a != handoff_id("acc1", HandoffKind.SQL_FIRST_CONTACT, "ev1")
    assert a != handoff_id("acc2", HandoffKind.CSM_KICKOFF, "ev1")
    assert a.startswith("h_") and len(a) == len("h_") + 40


T0 = datetime(2026, 11, 26, 9, tzinfo=UTC)


def _handoff() -> Handoff:
    return Handoff(
        id="h1", account_id="a", contact_id="c", kind=HandoffKind.SQL_FIRST_CONTACT,
        team="sales", owner="dana@x.example", previous_owner=None, episode="e",
        created_at=T0, deadline_at=T0 + timedelta(hours=4), escalate_at=T0 + timedelta(hours=8),
    )  # fmt: skip


def test_nothing_before_the_deadline_then_breach_then_escalation() -> None:
    h = _handoff()
    assert due_steps(h, T0 + timedelta(hours=3)) == ()
    assert due_steps(h, T0 + timedelta(hours=4)) == (HandoffStep.BREACH_REMINDER,)
    h = replace(h, breached_at=T0 + timedelta(hours=4))
    assert due_steps(h, T0 + timedelta(hours=5)) == ()
    assert due_steps(h, T0 + timedelta(hours=8)) == (HandoffStep.ESCALATION,)
    assert due_steps(replace(h, escalated_at=T0 + timedelta(hours=8)), T0 + timedelta(days=9)) == ()


def test_a_clock_first_run_after_both_times_does_both_steps_in_order() -> None:
    assert due_steps(_handoff(), T0 + timedelta(days=2)) == (
        HandoffStep.BREACH_REMINDER,
        HandoffStep.ESCALATION,
    )


def test_a_completed_handoff_never_breaches() -> None:
    h = replace(_handoff(), completed_at=T0 + timedelta(hours=1))
    assert due_steps(h, T0 + timedelta(days=30)) == ()


@settings(max_examples=200, deadline=None)
@given(ticks=st.lists(st.integers(min_value=0, max_value=60 * 24 * 5), max_size=30))
def test_breach_then_escalation_exactly_once_whatever_the_clock_ticks(ticks: list[int]) -> None:
    h = _handoff()
    fired: list[HandoffStep] = []
    for minutes in [*sorted(ticks), 60 * 24 * 6]:
        now = T0 + timedelta(minutes=minutes)
        for step in due_steps(h, now):
            fired.append(step)
            h = (
                replace(h, breached_at=now)
                if step is HandoffStep.BREACH_REMINDER
                else replace(h, escalated_at=now)
            )
    assert fired == [HandoffStep.BREACH_REMINDER, HandoffStep.ESCALATION]
    assert h.breached_at is not None and h.breached_at >= h.deadline_at
    assert h.escalated_at is not None and h.escalated_at >= h.escalate_at


TEAM = TeamConfig(
    lead="lee@x.example",
    members={
        "dana@x.example": TeamMember(capacity=2),
        "lee@x.example": TeamMember(capacity=0),
        "sam@x.example": TeamMember(),
    },
)


def test_escalation_goes_to_the_lead_else_the_next_person() -> None:
    assert escalation_target(TEAM, "dana@x.example") == "lee@x.example"
    assert escalation_target(TEAM, "lee@x.example") == "sam@x.example"
    assert escalation_target(TeamConfig(members={"a@x": TeamMember()}), "a@x") is None
    assert escalation_target(TeamConfig(members={"a@x": TeamMember(), "b@x": TeamMember()}),
                             "b@x") == "a@x"  # fmt: skip


def test_round_robin_respects_capacity_and_never_drops() -> None:
    assert least_loaded_member(TEAM, {}) == "dana@x.example"
    assert least_loaded_member(TEAM, {"dana@x.example": 1}) == "sam@x.example"
    assert least_loaded_member(TEAM, {"dana@x.example": 2, "sam@x.example": 5}) == "sam@x.example"
    assert least_loaded_member(TeamConfig(), {}) is None


def test_a_member_missing_from_the_load_has_none_and_room_under_a_capacity_of_one() -> None:
    team = TeamConfig(members={"ann@x": TeamMember(capacity=1), "bo@x": TeamMember()})
    assert least_loaded_member(team, {"bo@x": 0}) == "ann@x"  # tie on 0: the team's order


def test_all_full_picks_the_least_loaded_of_those_with_any_capacity() -> None:
    team = TeamConfig(members={"ann@x": TeamMember(capacity=0), "bo@x": TeamMember(capacity=1)})
    # ann has fewer accounts but takes none (capacity 0); bo is full but still takes the lead
    assert least_loaded_member(team, {"bo@x": 1}) == "bo@x"
    full = TeamConfig(members={"ann@x": TeamMember(capacity=2), "bo@x": TeamMember(capacity=1)})
    assert least_loaded_member(full, {"ann@x": 3, "bo@x": 1}) == "bo@x"


def test_a_lead_must_be_a_member_and_emails_are_lowercased() -> None:
    team = TeamConfig(lead="Lee@X.example", members={"LEE@x.example": TeamMember()})
    assert team.lead == "lee@x.example" and "lee@x.example" in team.members
    with pytest.raises(ValueError, match="not one of the team"):
        TeamConfig(lead="nobody@x.example", members={"a@x.example": TeamMember()})


def test_default_slas_are_the_issues() -> None:
    assert DEFAULT_SLAS[HandoffKind.MQL_ACCEPT].business_days == 1
    assert DEFAULT_SLAS[HandoffKind.SQL_FIRST_CONTACT].business_hours == 4
    assert DEFAULT_SLAS[HandoffKind.CSM_KICKOFF].business_days == 2
    with pytest.raises(ValueError, match="needs business_days"):
        HandoffSla()


def test_a_team_owner_comes_from_an_owner_change_with_a_team_or_a_csm_on_the_deal() -> None:
    assert crm_team_claim("crm_owner_changed", {"owner_id": "7", "team": "Success"}) == (
        "success",
        {"owner_id": "7", "team": "Success"},
    )
    assert crm_team_claim("crm_owner_changed", {"owner_id": "7"}) is None  # sales, as before
    assert crm_team_claim("deal_closed_won", {"deal_id": "d", "csm_email": "c@x"}) == (
        "success",
        {"owner_email": "c@x", "owner_id": None},
    )
    assert crm_team_claim("deal_closed_won", {"deal_id": "d", "csm_owner_id": "u9"}) == (
        "success",
        {"owner_email": None, "owner_id": "u9"},
    )
    assert crm_team_claim("deal_closed_won", {"deal_id": "d"}) is None


def test_owners_in_words_put_the_stages_team_first_with_who_was_before() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    owners = [
        TeamOwner("a", "success", "cara@x", "sam@x", at, "crm"),
        TeamOwner("a", "marketing", "mo@x", None, at, "pool"),
    ]
    assert owners_in_words(owners, "dana@x", "success") == (
        "cara@x (success; before: sam@x); mo@x (marketing); dana@x (sales)"
    )
    assert owners_in_words([], None) == ""
