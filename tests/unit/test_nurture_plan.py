"""The default content plan per stage and persona, and eligibility of single touches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.orchestrator.adapters.nurture_file import default_nurture, parse_nurture
from services.orchestrator.adapters.playbook_file import PlaybookError
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import (
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.eligibility import (
    Allowed,
    PlannedTouch,
    Recipient,
    Skipped,
    SkipReason,
    check_eligibility,
)
from services.orchestrator.domain.planner import ExistingTouch, plan_contact
from services.orchestrator.domain.stages import Stage

CONFIG = default_nurture()
MONDAY = datetime(2026, 5, 4, 10, tzinfo=UTC)
E, S = TouchChannel.EMAIL, TouchChannel.SMS
CALL, REMIND = TouchChannel.REP_CALL_REMINDER, TouchChannel.REP_EMAIL_REMINDER
OPTED_IN = ConsentLedger(
    entries=[ConsentEntry("c1", c, ConsentStatus.GRANTED, "form", "ev", MONDAY) for c in Channel]
)


def plan_touches(
    config: object, recipient: Recipient, _: None, now: datetime
) -> tuple[PlannedTouch, ...]:
    """The touches the planner creates for an opted-in contact with nothing stored yet."""
    return plan_contact(CONFIG, recipient, OPTED_IN, [], now).create


def sent(touch: PlannedTouch) -> ExistingTouch:
    return ExistingTouch(touch.touch_id, touch.sequence_id, touch.step_id, touch.stage,
                         touch.channel, "sent")  # fmt: skip


def who(stage: Stage, role: str | None = None, nps: int | None = None, **kw: object) -> Recipient:
    return Recipient("c1", "acme", stage, ZoneInfo("UTC"), role=role, nps=nps, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("stage", "role", "nps", "expected"),
    [
        (
            Stage.AWARENESS,
            None,
            None,
            [
                (E, "awareness/problem_framing"),
                (E, "awareness/industry_report"),
                (E, "awareness/how_others_solve"),
            ],
        ),
        (
            Stage.ENGAGED,
            "technical",
            None,
            [(E, "engaged/architecture_guide"), (E, "engaged/hands_on_webinar")],
        ),
        (
            Stage.ENGAGED,
            "executive",
            None,
            [(E, "engaged/buyers_guide"), (E, "engaged/strategy_webinar")],
        ),
        (
            Stage.MQL,
            "finance",
            None,
            [(E, "mql/roi_case_study"), (REMIND, "reminders/mql_intro"), (E, "mql/tco_comparison")],
        ),
        (
            Stage.MQL,
            "user",
            None,
            [(E, "mql/case_study"), (REMIND, "reminders/mql_intro"), (E, "mql/comparison")],
        ),
        (Stage.SQL, "manager", None, [(CALL, "reminders/sql_call_now")]),
        (Stage.OPPORTUNITY, None, None, [(REMIND, "reminders/deal_check_in")]),
        (
            Stage.ONBOARDING,
            None,
            None,
            [
                (E, "onboarding/kickoff"),
                (E, "onboarding/setup_guide"),
                (E, "onboarding/timeline"),
                (S, "onboarding/kickoff_sms"),
            ],
        ),
        (
            Stage.RETAINED,
            None,
            None,
            [
                (E, "retained/product_updates"),
                (E, "retained/best_practices"),
                (REMIND, "reminders/business_review"),
            ],
        ),
        (
            Stage.EXPANSION,
            None,
            None,
            [(E, "expansion/relevant_addons"), (CALL, "reminders/expansion_call")],
        ),
        (Stage.ADVOCATE, None, 10, [(E, "advocate/thank_you"), (E, "advocate/referral_ask")]),
        (Stage.ADVOCATE, None, 8, [(E, "advocate/thank_you")]),
        (Stage.ADVOCATE, None, None, [(E, "advocate/thank_you")]),
        (Stage.CHURNED, None, None, []),
        (Stage.DISQUALIFIED, None, None, []),
    ],
)
def test_the_default_plan_gives_each_stage_and_persona_its_content(
    stage: Stage, role: str | None, nps: int | None, expected: list[tuple[TouchChannel, str]]
) -> None:
    planned = plan_touches(CONFIG, who(stage, role, nps), None, MONDAY)
    assert [(t.channel, t.template) for t in planned] == expected
    assert all(t.stage is stage for t in planned)


def test_sql_gives_the_owner_rep_a_call_reminder_immediately() -> None:
    (touch,) = plan_touches(CONFIG, who(Stage.SQL), None, MONDAY)
    assert touch.due_at == MONDAY
    assert check_eligibility(touch, who(Stage.SQL), OPTED_IN, [], CONFIG, MONDAY) == Allowed()


def test_planned_touches_are_due_in_order_and_only_inside_their_windows() -> None:
    planned = plan_touches(CONFIG, who(Stage.ONBOARDING), None, MONDAY)
    dues = [t.due_at for t in planned]
    assert dues == sorted(dues)
    for t in planned:
        assert CONFIG.window_for(t.channel, t.window).contains(t.due_at, ZoneInfo("UTC"))


def test_a_replan_after_the_first_step_went_out_keeps_the_other_steps_ids() -> None:
    first = plan_touches(CONFIG, who(Stage.AWARENESS), None, MONDAY)
    later = plan_contact(CONFIG, who(Stage.AWARENESS), OPTED_IN, [sent(first[0])],
                         first[0].due_at).create  # fmt: skip
    assert [t.touch_id for t in later] == [t.touch_id for t in first[1:]]


def test_an_exited_sequence_plans_nothing() -> None:
    exited = who(Stage.AWARENESS, exited_sequences=frozenset({"awareness-education"}))
    assert plan_touches(CONFIG, exited, None, MONDAY) == ()


def mql_email() -> PlannedTouch:
    return plan_touches(CONFIG, who(Stage.MQL), None, MONDAY)[0]


@pytest.mark.parametrize(
    ("recipient", "ledger", "history", "reason"),
    [
        (who(Stage.MQL), ConsentLedger(), [], SkipReason.NO_CONSENT),
        (
            who(Stage.MQL),
            ConsentLedger(
                OPTED_IN.entries,
                [Suppression("c1", SuppressionKind.UNSUBSCRIBED, "link", "ev", MONDAY)],
            ),
            [],
            SkipReason.SUPPRESSED,
        ),
        (who(Stage.SQL), OPTED_IN, [], SkipReason.SALES_OWNED),
        (who(Stage.MQL, account_stage=Stage.OPPORTUNITY), OPTED_IN, [], SkipReason.SALES_OWNED),
        (who(Stage.ENGAGED), OPTED_IN, [], SkipReason.STAGE_EXITED),
        (who(Stage.MQL), OPTED_IN, [SentTouch("c1", "acme", S, MONDAY)], SkipReason.MIN_GAP),
        (
            who(Stage.MQL),
            OPTED_IN,
            [SentTouch(c, "acme", E, MONDAY) for c in ("c2", "c3", "c4")],
            SkipReason.ACCOUNT_CAP,
        ),
    ],
)
def test_every_no_has_its_reason(
    recipient: Recipient, ledger: ConsentLedger, history: list[SentTouch], reason: SkipReason
) -> None:
    touch = mql_email()
    result = check_eligibility(touch, recipient, ledger, history, CONFIG, touch.due_at)
    assert isinstance(result, Skipped) and result.reason is reason


def test_a_touch_due_in_quiet_hours_is_deferred_to_the_next_opening_not_dropped() -> None:
    touch = mql_email()
    saturday = datetime(2026, 5, 9, 10, tzinfo=UTC)
    result = check_eligibility(touch, who(Stage.MQL), OPTED_IN, [], CONFIG, saturday)
    assert result == Skipped(SkipReason.QUIET_HOURS, retry_at=datetime(2026, 5, 11, 8, tzinfo=UTC))


def test_a_plan_naming_an_unknown_window_fails_the_check_not_the_send() -> None:
    with pytest.raises(PlaybookError, match="unknown send windows: nope"):
        parse_nurture(b"""
windows: {w: {start: "09:00"}}
channel_windows: {email: w, sms: w, rep_call_reminder: w, rep_email_reminder: nope}
""")


def test_the_sql_call_reminder_needs_no_opt_in_because_calls_rest_on_legitimate_interest() -> None:
    (touch,) = plan_touches(CONFIG, who(Stage.SQL), None, MONDAY)
    assert (
        check_eligibility(touch, who(Stage.SQL), ConsentLedger(), [], CONFIG, MONDAY) == Allowed()
    )


def test_a_do_not_contact_contact_gets_no_rep_call_either() -> None:
    (touch,) = plan_touches(CONFIG, who(Stage.SQL), None, MONDAY)
    dnc = ConsentLedger(
        suppressions=[Suppression("c1", SuppressionKind.DO_NOT_CONTACT, "crm", "ev", MONDAY)]
    )
    result = check_eligibility(touch, who(Stage.SQL), dnc, [], CONFIG, MONDAY)
    assert result == Skipped(SkipReason.SUPPRESSED)


def test_a_marketing_step_in_a_sales_owned_stage_fails_the_plan_check() -> None:
    with pytest.raises(PlaybookError, match="sales-owned"):
        parse_nurture(b"""
windows: {w: {start: "09:00"}}
channel_windows: {email: w, sms: w, rep_call_reminder: w, rep_email_reminder: w}
sequences:
  - {id: s, stage: sql, steps: [{id: a, channel: email, template: t}]}
""")


def test_a_resumed_sequence_never_plans_a_touch_in_the_past() -> None:
    (framing, *_) = plan_touches(CONFIG, who(Stage.AWARENESS), None, MONDAY)
    much_later = MONDAY + timedelta(days=30)
    planned = plan_contact(CONFIG, who(Stage.AWARENESS), OPTED_IN, [sent(framing)],
                           much_later).create  # fmt: skip
    assert [t.step_id for t in planned] == ["industry-report", "how-others-solve"]
    assert all(t.due_at >= much_later for t in planned)


def test_a_demo_request_ends_every_marketing_sequence_that_lists_it_and_nothing_else() -> None:
    ended = CONFIG.exited_by("demo_requested")
    assert "awareness-education" in ended and "mql-proof" in ended
    assert ended == {q.id for q in CONFIG.sequences if "demo_requested" in q.exit_on}
    assert not any(CONFIG.sequence(s).stage in (Stage.SQL, Stage.OPPORTUNITY) for s in ended)  # type: ignore[union-attr]
    assert CONFIG.exited_by("page_viewed") == frozenset()


def test_the_sequence_table_answers_as_a_scan_of_the_sequences_would() -> None:
    roles = {r for q in CONFIG.sequences for r in q.roles} | {None, "someone-else"}
    for stage in Stage:
        for role in roles:
            serving = sorted(
                (q for q in CONFIG.sequences if q.serves(stage, role)), key=lambda q: not q.roles
            )
            assert CONFIG.sequence_for(stage, role) == (serving[0] if serving else None)


def test_every_region_the_playbook_or_the_demo_world_uses_has_a_time_zone() -> None:
    """The ICP's regions, the demo's and the plan's fallbacks must be one vocabulary: a region
    without a zone silently falls back to the default zone (UTC), i.e. night sends in the US."""
    from services.orchestrator.adapters.playbook_file import default_playbook
    from trellis.demo_world import REGIONS

    icp = {
        v
        for rule in default_playbook().fit.criteria
        if rule.trait == "account.region"
        for v in rule.in_
    }
    assert icp and set(REGIONS)
    assert icp | set(REGIONS) <= set(CONFIG.region_timezones)
