"""Invariants of decide() under arbitrary event histories (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.repository import state_json
from services.orchestrator.adapters.state_codec import decode_contact
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.lifecycle import replay
from services.orchestrator.domain.scoring import ScoreState, apply_points
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import AccountState, ContactState, Progress
from tests.unit.orchestrator_events import ICP_ACCOUNT, T0

PLAYBOOK = default_playbook()
VOCABULARY = [
    "page_viewed", "content_downloaded", "webinar_registered", "webinar_attended",
    "email_opened", "email_clicked", "form_submitted", "demo_requested",
    "contact_sales_requested", "meeting_booked", "crm_lead_status_changed", "crm_owner_changed",
    "deal_created", "deal_stage_changed", "deal_closed_won", "deal_closed_lost",
    "product_activated", "usage_milestone", "seats_changed", "support_ticket_opened",
    "nps_submitted", "subscription_cancelled", "consent_given", "consent_withdrawn",
]  # fmt: skip
PROPERTIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "page_viewed": st.sampled_from(["/pricing", "/blog", "/"]).map(
        lambda p: {"path": p, "is_pricing": p == "/pricing"}
    ),
    "content_downloaded": st.fixed_dictionaries(
        {"content_type": st.sampled_from(["case_study", "ebook", "whitepaper"])}
    ),
    "crm_lead_status_changed": st.fixed_dictionaries(
        {"status": st.sampled_from(["sales_accepted", "disqualified", "working"])}
    ),
    "seats_changed": st.integers(-10, 20).map(
        lambda d: {"seats": 20 + d, "previous_seats": 20, "seats_added": d}
    ),
    "nps_submitted": st.fixed_dictionaries({"score": st.integers(0, 10)}),
    "usage_milestone": st.fixed_dictionaries(
        {"milestone": st.sampled_from(["first_report", "plan_limit_reached"])}
    ),
}


@st.composite
def histories(
    draw: st.DrawFn, types: list[str] = VOCABULARY, span_minutes: int = 20 * 24 * 60
) -> list[Engagement]:
    minutes = draw(st.lists(st.integers(0, span_minutes), min_size=1, max_size=25, unique=True))
    events = []
    for i, minute in enumerate(minutes):
        type_ = draw(st.sampled_from(types))
        props = draw(PROPERTIES.get(type_, st.just({})))
        contact = draw(st.sampled_from(["c1", "c2"]))
        events.append(
            Engagement(
                event_id=f"e{i}",
                type=type_,
                occurred_at=T0 + timedelta(minutes=minute),
                properties=props,
                contact_key=contact,
                account_key="acme",
                contact_traits={"role": draw(st.sampled_from(["user", "finance", "technical"]))},
                account_traits=ICP_ACCOUNT,
            )
        )
    return events


NOW = T0 + timedelta(days=21)


def deliver(batches: list[list[Engagement]]) -> dict[str, ContactState]:
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    for batch in batches:
        d = decide(contacts, accounts, batch, PLAYBOOK, NOW)
        # Through the stored text, as the handler persists them in contacts.state / accounts.state
        contacts |= {k: decode_contact(state_json(v)) for k, v in d.contacts.items()}
        accounts |= {
            k: AccountState.from_dict(orjson.loads(state_json(v))) for k, v in d.accounts.items()
        }
    return contacts


@given(histories(), st.randoms(use_true_random=False), st.integers(1, 5))
@settings(max_examples=150, deadline=None)
def test_delivery_order_and_batching_do_not_change_the_final_state(
    events: list[Engagement], rnd: Any, cuts: int
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    points = sorted(rnd.sample(range(len(shuffled) + 1), min(cuts, len(shuffled) + 1)))
    batches = [shuffled[a:b] for a, b in zip([0, *points], [*points, len(shuffled)], strict=True)]
    one = deliver([events])
    many = deliver(batches)
    assert {k: (s.current, s.score) for k, s in many.items()} == {
        k: (s.current, s.score) for k, s in one.items()
    }


@given(histories(span_minutes=300 * 24 * 60), st.integers(1, 6), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_folding_old_events_into_the_checkpoint_is_exact(
    events: list[Engagement], chunks: int, rnd: Any
) -> None:
    ordered = sorted(events, key=lambda e: e.sort_key)
    size = max(1, len(ordered) // chunks)
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    for batch in batches:
        rnd.shuffle(batch)  # any order inside a batch
    assert {k: s.current for k, s in deliver(batches).items()} == {
        k: s.current for k, s in deliver([ordered]).items()
    }


@given(histories())
@settings(max_examples=100, deadline=None)
def test_replaying_the_same_events_is_a_no_op(events: list[Engagement]) -> None:
    first = decide({}, {}, events, PLAYBOOK, NOW)
    again = decide(first.contacts, first.accounts, events, PLAYBOOK, NOW)
    assert again.contacts == first.contacts
    assert again.accounts == first.accounts
    assert not [t for t in again.transitions if t.subject_kind == "contact"]


@given(histories(span_minutes=200 * 24 * 60))
@settings(max_examples=100, deadline=None)
def test_scores_never_exceed_caps(events: list[Engagement]) -> None:
    scoring = PLAYBOOK.scoring
    state, awarded = ScoreState(), defaultdict(list)
    for e in sorted(events, key=lambda e: e.sort_key):
        rule = scoring.rule_for(e.type, e.properties)
        if rule is None:
            continue
        state, points = apply_points(state, rule, e.occurred_at, scoring)
        assert 0 <= state.value <= scoring.max_score
        awarded[rule.name].append((e.occurred_at, points))
    for rule in scoring.rules:
        if rule.cap is None:
            continue
        window = timedelta(days=rule.window_days)
        for at, _ in awarded[rule.name]:
            in_window = sum(p for t, p in awarded[rule.name] if at - window < t <= at)
            assert in_window <= rule.cap + 1e-9
    for contact in decide({}, {}, events, PLAYBOOK, NOW).contacts.values():
        assert 0 <= contact.score <= scoring.max_score


@given(histories(span_minutes=400 * 24 * 60))
@settings(max_examples=150, deadline=None)
def test_stage_never_moves_backwards_except_by_explicit_rules(events: list[Engagement]) -> None:
    by_contact: dict[str, list[Engagement]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e.sort_key):
        by_contact[e.contact_key].append(e)
    for key, history in by_contact.items():
        _, moves = replay(Progress(), history, PLAYBOOK, key, NOW + timedelta(days=400))
        for m in moves:
            if m.reason in (TransitionReason.EVIDENCE, TransitionReason.FIRST_ENGAGEMENT):
                assert m.from_stage is None or (
                    not m.from_stage.parked and m.to_stage.rank > m.from_stage.rank
                )
            else:
                assert m.reason in (TransitionReason.CRM_EVENT, TransitionReason.RECYCLED)


EXPLICIT = {r.event.type for r in PLAYBOOK.explicit}
SQL_RULE = PLAYBOOK.rule_for(Stage.SQL)
HAND_RAISERS = {m.type for m in SQL_RULE.any_of} if SQL_RULE else set()
LOW_INTENT = sorted(t for t in VOCABULARY if t not in EXPLICIT | HAND_RAISERS)


@given(st.sampled_from(LOW_INTENT).flatmap(lambda t: histories(types=[t])))
@settings(max_examples=150, deadline=None)
def test_any_amount_of_one_low_intent_action_never_moves_a_lead_past_engaged(
    events: list[Engagement],
) -> None:
    for contact in decide({}, {}, events, PLAYBOOK, NOW).contacts.values():
        assert contact.stage is not None
        assert contact.stage.rank <= Stage.ENGAGED.rank


def test_low_intent_vocabulary_is_not_empty() -> None:
    assert {"content_downloaded", "page_viewed", "webinar_attended"} <= set(LOW_INTENT)
    assert "demo_requested" not in LOW_INTENT


def _histories_of(batches: list[list[Engagement]]) -> list[tuple[str, str, Any, Any, Any, Any]]:
    """Every stage change, contacts' and accounts', as the handler stores it."""
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    out = []
    for batch in batches:
        d = decide(contacts, accounts, batch, PLAYBOOK, NOW)
        contacts |= dict(d.contacts)
        accounts |= dict(d.accounts)
        out += [
            (t.subject_kind, t.subject_key, t.from_stage, t.to_stage, t.event_id, t.occurred_at)
            for t in d.transitions
        ]
    return sorted(out, key=lambda r: (r[0], r[1], r[5], str(r[4])))


@given(histories(), st.randoms(use_true_random=False), st.integers(1, 6))
@settings(max_examples=150, deadline=None)
def test_any_split_into_batches_gives_the_same_contact_and_account_histories(
    events: list[Engagement], rnd: Any, cuts: int
) -> None:
    """In occurred_at order, however the stream is cut into batches: the same stage changes,
    at the events' times and with their ids, for contacts and for the account alike."""
    fixed_roles = {"c1": "finance", "c2": "technical"}  # a role that changes mid-batch is later
    ordered = [
        replace(e, contact_traits={"role": fixed_roles[e.contact_key]})
        for e in sorted(events, key=lambda e: e.sort_key)
    ]
    points = sorted(rnd.sample(range(len(ordered) + 1), min(cuts, len(ordered) + 1)))
    batches = [ordered[a:b] for a, b in zip([0, *points], [*points, len(ordered)], strict=True)]
    whole = _histories_of([ordered])
    assert _histories_of([b for b in batches if b]) == whole
    accounts = [h for h in whole if h[0] == "account"]
    assert all(h[5] != NOW for h in accounts)  # dated by events, not by processing time
