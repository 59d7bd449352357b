"""Every stage rule of the default playbook, as a table of event histories and expected stages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import DecisionKind, Stage, TransitionReason
from tests.unit.orchestrator_events import T0, ev, run, stage_after


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return default_playbook()


def nurtured(day: float = 0) -> list[Engagement]:
    """Enough mid-funnel evidence for an MQL with an ICP fit."""
    return [
        ev("content_downloaded", day),
        ev("webinar_registered", day + 1),
        ev("webinar_attended", day + 2),
        ev("page_viewed", day + 3, path="/pricing", is_pricing=True),
    ]


def customer(day: float = 0) -> list[Engagement]:
    return [ev("demo_requested", day), ev("deal_created", day + 1), ev("deal_closed_won", day + 2)]


CASES = [
    (
        "a_first_page_view_makes_a_contact_aware",
        [ev("page_viewed", path="/blog", is_pricing=False)],
        Stage.AWARENESS,
    ),
    ("a_single_download_does_not_make_a_lead_engaged", [ev("content_downloaded")], Stage.AWARENESS),
    (
        "ten_downloads_of_one_kind_do_not_make_a_lead_engaged",
        [ev("content_downloaded", d) for d in range(10)],
        Stage.AWARENESS,
    ),
    (
        "two_distinct_engagements_over_the_threshold_make_a_lead_engaged",
        [ev("content_downloaded", 0), ev("webinar_registered", 1), ev("email_clicked", 2)],
        Stage.ENGAGED,
    ),
    (
        "distinct_but_weak_engagements_below_the_score_do_not_engage",
        [ev("email_opened", 0), ev("page_viewed", 1, path="/blog", is_pricing=False)],
        Stage.AWARENESS,
    ),
    ("fit_behaviour_and_a_mid_funnel_action_make_an_mql", nurtured(), Stage.MQL),
    (
        "behaviour_without_icp_fit_stays_engaged",
        [
            ev(e.type, i, account_traits={"industry": "retail"}, role="user", **e.properties)
            for i, e in enumerate(nurtured())
        ],
        Stage.ENGAGED,
    ),
    (
        "behaviour_without_a_mid_funnel_action_stays_engaged",
        [
            ev("content_downloaded", 0),
            ev("webinar_registered", 1),
            ev("email_clicked", 2),
            ev("form_submitted", 3),
        ],
        Stage.ENGAGED,
    ),
    ("a_demo_request_makes_a_lead_sql", [ev("demo_requested")], Stage.SQL),
    ("a_contact_sales_request_makes_a_lead_sql", [ev("contact_sales_requested")], Stage.SQL),
    (
        "sales_accepting_the_lead_makes_it_sql",
        [ev("crm_lead_status_changed", status="sales_accepted")],
        Stage.SQL,
    ),
    ("a_deal_created_in_crm_makes_an_opportunity", [ev("deal_created")], Stage.OPPORTUNITY),
    ("a_closed_won_deal_starts_onboarding", customer(), Stage.ONBOARDING),
    (
        "product_activation_before_the_deal_is_not_retention",
        [ev("product_activated", 0), *customer(1)],
        Stage.ONBOARDING,
    ),
    (
        "a_first_value_milestone_after_closed_won_means_retained",
        [*customer(), ev("product_activated", 5)],
        Stage.RETAINED,
    ),
    (
        "a_seat_increase_of_five_after_retention_means_expansion",
        [
            *customer(),
            ev("product_activated", 5),
            ev("seats_changed", 6, seats=15, previous_seats=10, seats_added=5),
        ],
        Stage.EXPANSION,
    ),
    (
        "a_small_seat_increase_is_not_expansion",
        [
            *customer(),
            ev("product_activated", 5),
            ev("seats_changed", 6, seats=12, previous_seats=10, seats_added=2),
        ],
        Stage.RETAINED,
    ),
    (
        "a_promoter_nps_after_retention_makes_an_advocate",
        [*customer(), ev("product_activated", 5), ev("nps_submitted", 6, score=10)],
        Stage.ADVOCATE,
    ),
    (
        "a_passive_nps_does_not_make_an_advocate",
        [*customer(), ev("product_activated", 5), ev("nps_submitted", 6, score=7)],
        Stage.RETAINED,
    ),
    (
        "a_promoter_nps_from_a_prospect_does_not_make_an_advocate",
        [ev("nps_submitted", score=10)],
        Stage.AWARENESS,
    ),
    (
        "sales_disqualifying_a_lead_disqualifies_it",
        [ev("demo_requested", 0), ev("crm_lead_status_changed", 1, status="disqualified")],
        Stage.DISQUALIFIED,
    ),
    (
        "a_disqualified_lead_is_not_moved_by_evidence_inside_the_cool_off",
        [ev("crm_lead_status_changed", 0, status="disqualified"), *nurtured(10)],
        Stage.DISQUALIFIED,
    ),
    (
        "a_disqualified_lead_is_recycled_after_the_cool_off_and_scored_afresh",
        [ev("crm_lead_status_changed", 0, status="disqualified"), ev("content_downloaded", 200)],
        Stage.AWARENESS,
    ),
    (
        "a_recycled_lead_progresses_on_new_evidence",
        [ev("crm_lead_status_changed", 0, status="disqualified"), *nurtured(200)],
        Stage.MQL,
    ),
    (
        "a_cancelled_subscription_means_churned",
        [*customer(), ev("subscription_cancelled", 30)],
        Stage.CHURNED,
    ),
    (
        "a_churned_customer_is_not_recycled_inside_a_year",
        [*customer(), ev("subscription_cancelled", 30), ev("email_opened", 300)],
        Stage.CHURNED,
    ),
    (
        "a_churned_customer_is_recycled_to_nurture_after_a_year",
        [*customer(), ev("subscription_cancelled", 30), ev("email_opened", 400)],
        Stage.AWARENESS,
    ),
    (
        "a_lost_deal_returns_the_lead_to_nurture",
        [ev("deal_created", 0), ev("deal_closed_lost", 1)],
        Stage.ENGAGED,
    ),
]


@pytest.mark.parametrize(("events", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_default_playbook_stage_rule(
    events: list[Engagement], expected: Stage, playbook: Playbook
) -> None:
    assert stage_after(events, playbook) == expected


def test_a_late_event_is_applied_by_occurred_at_not_arrival(playbook: Playbook) -> None:
    won = customer()
    activated = ev("product_activated", 1.5)  # before closed-won: not a value milestone yet
    first = run(won, playbook)
    late = run([activated], playbook, state=first.contacts["c1"])
    assert late.contacts["c1"].stage == Stage.ONBOARDING
    assert run([*won, activated], playbook).contacts["c1"].current == late.contacts["c1"].current


def test_a_disqualified_lead_recycles_when_the_cool_off_passes_without_new_events(
    playbook: Playbook,
) -> None:
    dq = run([ev("crm_lead_status_changed", status="disqualified")], playbook)
    assert dq.contacts["c1"].stage == Stage.DISQUALIFIED
    later = run([], playbook, now=T0 + timedelta(days=181), state=dq.contacts["c1"])
    assert later.contacts == {}  # decide only touches contacts with events in the batch
    from services.orchestrator.domain.decide import decide_contact

    state, moves, log = decide_contact(dq.contacts["c1"], [], playbook, T0 + timedelta(days=181))
    assert state.stage == Stage.AWARENESS
    assert [(m.reason, m.occurred_at) for m in moves] == [
        (TransitionReason.RECYCLED, T0 + timedelta(days=180))
    ]
    assert [e.reason for e in log] == ["recycled:awareness"]


def test_every_transition_is_explained_in_the_decision_log(playbook: Playbook) -> None:
    decision = run(nurtured(), playbook)
    contact_moves = [t for t in decision.transitions if t.subject_kind == "contact"]
    assert [t.to_stage for t in contact_moves] == [Stage.AWARENESS, Stage.ENGAGED, Stage.MQL]
    logged = [e for e in decision.log if e.kind == DecisionKind.STAGE_CHANGED and e.contact_key]
    assert [e.reason for e in logged] == [
        "first_engagement:awareness",
        "evidence:engaged",
        "evidence:mql",
    ]
    assert all(e.playbook_version == playbook.version for e in decision.log)
    assert logged[-1].facts["fit"] == 1.0
    assert logged[1].facts["engagements"] == 3  # the evidence when engaged, not after the batch
    assert 20 <= logged[1].facts["score"] < logged[2].facts["score"]


def test_a_transition_is_reported_once_across_batches(playbook: Playbook) -> None:
    events = nurtured()
    first = run(events[:3], playbook)
    second = run(events[3:], playbook, state=first.contacts["c1"])
    assert [t.to_stage for t in first.transitions if t.subject_kind == "contact"] == [
        Stage.AWARENESS,
        Stage.ENGAGED,
    ]
    assert [t.to_stage for t in second.transitions if t.subject_kind == "contact"] == [Stage.MQL]


def test_redelivered_events_are_logged_as_duplicates_and_change_nothing(
    playbook: Playbook,
) -> None:
    events = nurtured()
    first = run(events, playbook)
    again = run(events, playbook, state=first.contacts["c1"])
    assert again.contacts["c1"] == first.contacts["c1"]
    assert {e.reason for e in again.log if e.contact_key} == {"duplicate"}
    assert not [t for t in again.transitions if t.subject_kind == "contact"]


def test_an_event_older_than_the_allowed_lateness_is_logged_and_ignored(
    playbook: Playbook,
) -> None:
    first = run([ev("page_viewed", 0), ev("email_clicked", 100)], playbook)
    assert first.contacts["c1"].checkpoint.as_of == T0  # day 0 folded into the checkpoint
    late = run([ev("demo_requested", -1)], playbook, state=first.contacts["c1"])
    assert late.contacts["c1"].stage == Stage.AWARENESS
    assert [e.reason for e in late.log if e.contact_key] == ["too_late"]
