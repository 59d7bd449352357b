"""The planner's rules: a plan shows only what will be sent, and says why for every step left
out; leaving a stage or a channel cancels; re-entering never plans a second copy."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import (
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.eligibility import PlannedTouch, Recipient, SkipReason
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.planner import (
    Cancel,
    ContactPlan,
    Defer,
    ExistingTouch,
    NotPlanned,
    Send,
    Skip,
    cancellations,
    decide_due,
    plan_contact,
    touch_identity,
)
from services.orchestrator.domain.quiet_hours import SendWindow
from services.orchestrator.domain.sequences import NurtureSequence, Step, StepConditions
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import DispatchProblem
from services.orchestrator.domain.touch_retry import RETRY_MARK

CONFIG = default_nurture()
MONDAY = datetime(2026, 5, 4, 10, tzinfo=UTC)
E, S = TouchChannel.EMAIL, TouchChannel.SMS


def ledger(*channels: Channel, stop: bool = False) -> ConsentLedger:
    entries = [
        ConsentEntry("c1", c, ConsentStatus.GRANTED, "form", "ev", MONDAY - timedelta(days=1))
        for c in channels
    ]
    stops = [Suppression("c1", SuppressionKind.STOP, "outcome", "", MONDAY, Channel.SMS)]
    return ConsentLedger(entries, stops if stop else [], bases=CONFIG.legal_basis)


def who(stage: Stage, role: str | None = None, nps: int | None = None) -> Recipient:
    return Recipient("c1", "acme", stage, ZoneInfo("UTC"), role=role, nps=nps)


def stored(plan_touches: object, status: str, reason: str | None = None) -> list[ExistingTouch]:
    return [
        ExistingTouch(p.touch_id, p.sequence_id, p.step_id, p.stage, p.channel, status, reason)
        for p in plan_touches  # type: ignore[attr-defined]
    ]


def test_a_contact_who_never_opted_in_has_no_email_planned_and_each_step_says_why() -> None:
    plan = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(), [], MONDAY)
    assert plan.create == ()
    assert [n.reason for n in plan.not_planned] == [SkipReason.NO_CONSENT] * 3
    assert {n.step_id for n in plan.not_planned} == {
        "problem-framing", "industry-report", "how-others-solve"
    }  # fmt: skip


def test_an_email_only_customer_gets_the_onboarding_emails_but_no_sms() -> None:
    plan = plan_contact(CONFIG, who(Stage.ONBOARDING), ledger(Channel.EMAIL), [], MONDAY)
    assert {p.channel for p in plan.create} == {E}
    (sms,) = plan.not_planned
    assert (sms.channel, sms.reason, sms.step_id) == (S, SkipReason.NO_CONSENT, "kickoff-sms")


def test_after_stop_the_planned_sms_is_cancelled_and_not_planned_again() -> None:
    before = plan_contact(CONFIG, who(Stage.ONBOARDING), ledger(Channel.EMAIL, Channel.SMS), [],
                          MONDAY)  # fmt: skip
    planned = stored(before.create, "planned")
    after_stop = ledger(Channel.EMAIL, Channel.SMS, stop=True)
    later = MONDAY + timedelta(minutes=1)
    (cancel,) = cancellations(planned, after_stop, later)
    assert (cancel.channel, cancel.reason) == (S, SkipReason.SUPPRESSED)
    again = plan_contact(CONFIG, who(Stage.ONBOARDING), after_stop, planned, later)
    assert [c.channel for c in again.cancel] == [S] and again.create == ()
    assert [n.reason for n in again.not_planned] == []  # the SMS step is already known


def test_leaving_a_stage_cancels_its_planned_touches() -> None:
    awareness = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(Channel.EMAIL), [], MONDAY)
    planned = stored(awareness.create, "planned")
    moved = plan_contact(CONFIG, who(Stage.SQL), ledger(Channel.EMAIL), planned, MONDAY)
    assert sorted(c.touch_id for c in moved.cancel) == sorted(p.touch_id for p in planned)
    assert {c.reason for c in moved.cancel} == {SkipReason.STAGE_EXITED}


def test_re_entering_a_stage_never_plans_a_second_copy() -> None:
    first = plan_contact(CONFIG, who(Stage.ONBOARDING), ledger(Channel.EMAIL), [], MONDAY)
    kickoff, *rest = first.create
    history = stored([kickoff], "sent") + stored(rest, "skipped", SkipReason.STAGE_EXITED)
    back = plan_contact(CONFIG, who(Stage.ONBOARDING), ledger(Channel.EMAIL), history,
                        MONDAY + timedelta(days=30))  # fmt: skip
    assert back.create == ()  # nothing new: the same steps, the same ids
    assert [p.touch_id for p in back.revive] == [p.touch_id for p in rest]
    assert kickoff.touch_id not in {p.touch_id for p in back.revive}  # it went out once


def test_a_sequence_its_exit_event_ended_is_not_planned_again() -> None:
    first = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(Channel.EMAIL), [], MONDAY)
    ended = stored(first.create, "skipped", SkipReason.SEQUENCE_EXITED)
    again = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(Channel.EMAIL), ended, MONDAY)
    assert again.create == () and again.revive == ()


def test_a_touch_identity_is_the_contact_sequence_and_step() -> None:
    (p, *_) = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(Channel.EMAIL), [], MONDAY).create
    assert p.touch_id == touch_identity("c1", p.sequence_id, p.step_id)
    later = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(Channel.EMAIL), [],
                         MONDAY + timedelta(days=3)).create[0]  # fmt: skip
    assert later.touch_id == p.touch_id


@pytest.mark.parametrize(("nps", "asked"), [(10, True), (9, True), (8, False), (None, False)])
def test_the_referral_ask_goes_to_promoters_and_the_others_are_told_why(
    nps: int | None, asked: bool
) -> None:
    plan = plan_contact(CONFIG, who(Stage.ADVOCATE, nps=nps), ledger(Channel.EMAIL), [], MONDAY)
    steps = {p.step_id for p in plan.create}
    assert ("referral-ask" in steps) is asked and "thank-you" in steps
    if not asked:
        (left_out,) = plan.not_planned
        assert left_out.reason is SkipReason.CONDITION_NOT_MET
        assert left_out.facts["min_nps"].startswith("needs 9 or more")


def test_a_stored_touch_from_before_touch_identity_is_not_duplicated() -> None:
    legacy = ExistingTouch("t_old", "onboarding-kickoff", "kickoff", Stage.ONBOARDING, E,
                           "planned")  # fmt: skip
    plan = plan_contact(CONFIG, who(Stage.ONBOARDING), ledger(Channel.EMAIL), [legacy], MONDAY)
    assert "kickoff" not in {p.step_id for p in plan.create}
    retry = ExistingTouch("t_old~r1", "onboarding-kickoff", "setup-guide", Stage.ONBOARDING, E,
                          "planned")  # fmt: skip
    plan = plan_contact(CONFIG, who(Stage.ONBOARDING), ledger(Channel.EMAIL), [retry], MONDAY)
    assert "setup-guide" in {p.step_id for p in plan.create}  # a retry is not the step's touch


def test_rep_reminders_are_not_stopped_by_the_contacts_consent() -> None:
    plan = plan_contact(CONFIG, who(Stage.SQL), ledger(), [], MONDAY)
    assert [p.channel for p in plan.create] == [TouchChannel.REP_CALL_REMINDER]


stages = st.sampled_from([s for s in Stage if CONFIG.sequence_for(s, None) is not None])
channels = st.sets(st.sampled_from([Channel.EMAIL, Channel.SMS]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(stages, channels, st.booleans()), min_size=1, max_size=6))
def test_whatever_the_path_a_step_is_planned_at_most_once_and_only_when_reachable(
    path: list[tuple[Stage, set[Channel], bool]],
) -> None:
    """Walk stages and consent changes; apply each plan as the adapters do."""
    store: dict[str, ExistingTouch] = {}
    now = MONDAY
    for stage, granted, stop in path:
        consent = ledger(*granted, stop=stop)
        plan = plan_contact(CONFIG, who(stage), consent, list(store.values()), now)
        for c in plan.cancel:
            t = store[c.touch_id]
            store[c.touch_id] = ExistingTouch(t.touch_id, t.sequence_id, t.step_id, t.stage,
                                              t.channel, "skipped", c.reason)  # fmt: skip
        for p in (*plan.create, *plan.revive):
            assert p.touch_id not in store or store[p.touch_id].status == "skipped"
            store[p.touch_id] = ExistingTouch(p.touch_id, p.sequence_id, p.step_id, p.stage,
                                              p.channel, "planned")  # fmt: skip
        planned = [t for t in store.values() if t.status == "planned"]
        steps = [(t.sequence_id, t.step_id) for t in planned]
        assert len(steps) == len(set(steps))  # never two copies of a step
        for t in planned:  # what is planned is what will be sent
            assert t.channel.is_reminder or t.channel.consent_channel in granted
            assert not (stop and t.channel is S)
            assert t.sequence_id == CONFIG.sequence_for(stage, None).id  # type: ignore[union-attr]
        now += timedelta(days=1)


# A small plan of our own, so each rule shows in the numbers.
ANYTIME = SendWindow()
MORNINGS = SendWindow(start=time(9), end=time(12))
WORKDAY = SendWindow(start=time(9), end=time(17))
UTC_ZONE = ZoneInfo("UTC")
NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
OWN = NurtureConfig(
    windows={"anytime": ANYTIME, "mornings": MORNINGS, "workday": WORKDAY},
    channel_windows={E: "anytime", S: "anytime", TouchChannel.REP_CALL_REMINDER: "workday",
                     TouchChannel.REP_EMAIL_REMINDER: "workday"},
    sequences=(
        NurtureSequence(id="gated", stage=Stage.AWARENESS, steps=(
            Step(id="a", channel=E, template="t/a",
                 conditions=StepConditions(roles=frozenset({"finance"}), min_nps=5)),
            Step(id="b", channel=E, template="t/b", delay=timedelta(hours=2)),
            Step(id="c", channel=E, template="t/c", delay=timedelta(hours=3)),
        )),
        NurtureSequence(id="timed", stage=Stage.ENGAGED, steps=(
            Step(id="call", channel=TouchChannel.REP_CALL_REMINDER, template="r/call"),
            Step(id="m", channel=E, template="t/m", window="mornings"),
        )),
    ),
)  # fmt: skip


def person(
    stage: Stage,
    role: str | None = None,
    nps: int | None = None,
    *,
    exited: frozenset[str] = frozenset(),
    zone: ZoneInfo = UTC_ZONE,
    rep_zone: ZoneInfo | None = None,
) -> Recipient:
    return Recipient(
        "c1", "acme", stage, zone, role=role, nps=nps, rep_timezone=rep_zone,
        exited_sequences=exited,
    )  # fmt: skip


def touch(step: str, due: datetime) -> PlannedTouch:
    """The touch of step ``step`` of the ``gated`` sequence, as planned for c1."""
    return PlannedTouch(touch_identity("c1", "gated", step), "c1", "acme", "gated", step,
                        Stage.AWARENESS, E, f"t/{step}", None, due)  # fmt: skip


def test_each_step_is_due_its_delay_after_the_previous_one_with_every_fact_of_the_touch() -> None:
    plan = plan_contact(OWN, person(Stage.AWARENESS, "finance", 7), ledger(Channel.EMAIL), [],
                        MONDAY)  # fmt: skip
    assert plan == ContactPlan(create=(
        touch("a", MONDAY), touch("b", MONDAY + timedelta(hours=2)),
        touch("c", MONDAY + timedelta(hours=5)),
    ))  # fmt: skip


def test_a_step_whose_conditions_fail_is_left_out_with_what_was_needed_and_the_rest_go_on() -> None:
    plan = plan_contact(OWN, person(Stage.AWARENESS, "manager", 3), ledger(Channel.EMAIL), [],
                        MONDAY)  # fmt: skip
    assert plan.not_planned == (
        NotPlanned("c1", "acme", "gated", "a", E, "t/a", SkipReason.CONDITION_NOT_MET,
                   {"roles": "needs finance; is manager", "min_nps": "needs 5 or more; is 3"}),
    )  # fmt: skip
    assert [p.step_id for p in plan.create] == ["b", "c"]
    assert plan.create[0].due_at == MONDAY + timedelta(hours=2)


def test_a_step_the_contact_may_not_get_says_which_step_and_why_in_full() -> None:
    plan = plan_contact(OWN, person(Stage.AWARENESS, "finance", 9), ledger(), [], MONDAY)
    assert plan.not_planned == tuple(
        NotPlanned("c1", "acme", "gated", s, E, f"t/{s}", SkipReason.NO_CONSENT) for s in "abc"
    )


def test_a_reminder_falls_in_the_reps_hours_and_an_email_in_its_named_window_in_the_contacts_zone(
) -> None:  # fmt: skip
    who_ = person(Stage.ENGAGED, zone=NEW_YORK, rep_zone=BERLIN)
    call, email = plan_contact(OWN, who_, ledger(Channel.EMAIL), [], MONDAY).create
    assert call.due_at == MONDAY  # 12:00 in Berlin: inside the rep's workday
    assert (email.window, email.due_at) == ("mornings", MONDAY + timedelta(hours=3))  # 9:00 NY


def test_without_a_rep_zone_a_reminder_falls_in_the_workday_of_the_contacts_zone() -> None:
    who_ = person(Stage.ENGAGED, zone=NEW_YORK)
    call, _ = plan_contact(OWN, who_, ledger(Channel.EMAIL), [], MONDAY).create
    assert call.due_at == MONDAY + timedelta(hours=3)  # 6:00 in New York: waits for 9:00


def test_a_contact_in_a_stage_without_a_sequence_gets_nothing_and_its_touches_are_cancelled(
) -> None:  # fmt: skip
    planned = stored([touch("b", MONDAY)], "planned")
    plan = plan_contact(OWN, person(Stage.MQL), ledger(Channel.EMAIL), planned, MONDAY)
    assert plan == ContactPlan(cancel=(Cancel(planned[0].touch_id, E, SkipReason.STAGE_EXITED),))
    assert plan_contact(OWN, person(Stage.MQL), ledger(), [], MONDAY) == ContactPlan()


def test_a_contact_that_left_its_sequence_has_nothing_planned_in_it() -> None:
    exited = person(Stage.AWARENESS, "finance", 9, exited=frozenset({"gated"}))
    assert plan_contact(OWN, exited, ledger(Channel.EMAIL), [], MONDAY) == ContactPlan()


def test_a_planned_rep_reminder_outside_any_sequence_survives_a_change_of_stage() -> None:
    reminder = ExistingTouch("r1", "reminder", "demo_requested", None,
                             TouchChannel.REP_CALL_REMINDER, "planned")  # fmt: skip
    plan = plan_contact(OWN, person(Stage.MQL), ledger(), [reminder], MONDAY)
    assert plan.cancel == ()


def test_a_contact_nobody_may_contact_still_gets_its_reps_call_reminder() -> None:
    dnc = Suppression("c1", SuppressionKind.DO_NOT_CONTACT, "crm", "", MONDAY - timedelta(1))
    ledger_ = ConsentLedger([], [dnc], bases=CONFIG.legal_basis)
    plan = plan_contact(CONFIG, who(Stage.SQL), ledger_, [], MONDAY)
    assert [p.channel for p in plan.create] == [TouchChannel.REP_CALL_REMINDER]


def test_a_role_specific_sequence_serves_contacts_with_that_role() -> None:
    plan = plan_contact(CONFIG, who(Stage.ENGAGED, "technical"), ledger(Channel.EMAIL), [], MONDAY)
    assert {p.sequence_id for p in plan.create} == {"engaged-technical"}


def test_a_cancelled_touch_from_before_touch_identity_is_revived_under_its_own_id() -> None:
    legacy = ExistingTouch("t_old", "gated", "b", Stage.AWARENESS, E, "skipped",
                           SkipReason.STAGE_EXITED)  # fmt: skip
    plan = plan_contact(OWN, person(Stage.AWARENESS), ledger(Channel.EMAIL), [legacy], MONDAY)
    assert [p.touch_id for p in plan.revive] == ["t_old"]
    assert [p.step_id for p in plan.create] == ["c"]


def test_a_retry_listed_first_does_not_hide_the_touches_of_other_steps() -> None:
    retry = ExistingTouch(f"t_x{RETRY_MARK}1", "gated", "b", Stage.AWARENESS, E, "planned")
    c = ExistingTouch("t_c", "gated", "c", Stage.AWARENESS, E, "planned")
    plan = plan_contact(OWN, person(Stage.AWARENESS), ledger(Channel.EMAIL), [retry, c], MONDAY)
    assert [p.step_id for p in plan.create] == ["b"]


@pytest.mark.parametrize("planned_first", [True, False])
def test_a_step_with_a_planned_and_a_cancelled_touch_is_not_planned_again(
    planned_first: bool,
) -> None:
    live = ExistingTouch("t_live", "gated", "b", Stage.AWARENESS, E, "planned")
    dead = ExistingTouch("t_dead", "gated", "b", Stage.AWARENESS, E, "skipped",
                         SkipReason.STAGE_EXITED)  # fmt: skip
    existing = [live, dead] if planned_first else [dead, live]
    plan = plan_contact(OWN, person(Stage.AWARENESS), ledger(Channel.EMAIL), existing, MONDAY)
    assert plan.revive == () and [p.step_id for p in plan.create] == ["c"]


def test_of_two_cancelled_touches_of_a_step_the_first_stored_is_revived() -> None:
    first, second = (
        ExistingTouch(i, "gated", "b", Stage.AWARENESS, E, "skipped", SkipReason.NO_CONSENT)
        for i in ("t_first", "t_second")
    )
    plan = plan_contact(OWN, person(Stage.AWARENESS), ledger(Channel.EMAIL), [first, second],
                        MONDAY)  # fmt: skip
    assert [p.touch_id for p in plan.revive] == ["t_first"]


def test_a_touch_that_already_went_out_is_never_cancelled() -> None:
    sent = stored([touch("b", MONDAY)], "sent")
    assert cancellations(sent, ledger(), MONDAY) == []


def test_touch_ids_read_as_touch_ids_and_differ_by_contact_sequence_and_step() -> None:
    ids = {touch_identity(*parts) for parts in
           [("c1", "s", "a"), ("c2", "s", "a"), ("c1", "s2", "a"), ("c1", "s", "b")]}  # fmt: skip
    assert len(ids) == 4 and all(i.startswith("t_") for i in ids)


def test_a_due_touch_is_sent_deferred_or_skipped_with_its_reason() -> None:
    (touch, *_) = plan_contact(CONFIG, who(Stage.AWARENESS), ledger(Channel.EMAIL), [],
                               MONDAY).create  # fmt: skip
    due = touch.due_at
    allowed = ledger(Channel.EMAIL)
    assert decide_due(touch, who(Stage.AWARENESS), "a@b.io", allowed, [], CONFIG, due) == Send()
    assert decide_due(touch, None, "a@b.io", allowed, [], CONFIG, due) == Skip(
        DispatchProblem.UNKNOWN_CONTACT
    )
    assert decide_due(None, who(Stage.AWARENESS), "a@b.io", allowed, [], CONFIG, due) == Skip(
        DispatchProblem.UNKNOWN_STEP
    )
    assert decide_due(touch, who(Stage.AWARENESS), None, allowed, [], CONFIG, due) == Skip(
        DispatchProblem.NO_ADDRESS
    )
    assert decide_due(touch, who(Stage.AWARENESS), "a@b.io", ledger(), [], CONFIG, due) == Skip(
        SkipReason.NO_CONSENT
    )
    saturday = datetime(2026, 5, 9, 10, tzinfo=UTC)
    deferred = decide_due(touch, who(Stage.AWARENESS), "a@b.io", allowed, [], CONFIG, saturday)
    assert deferred == Defer(SkipReason.QUIET_HOURS, datetime(2026, 5, 11, 8, tzinfo=UTC))
