"""Account roll-up: stage follows the furthest stakeholder, gated by buying-committee coverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.accounts import roll_up
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import (
    AccountState,
    ContactState,
    Member,
    Progress,
    Transition,
)
from tests.unit.orchestrator_events import T0, ev

PLAYBOOK = default_playbook()


def engaged(contact: str, role: str, day: float = 0) -> list[Engagement]:
    return [
        ev("content_downloaded", day, contact=contact, role=role),
        ev("webinar_registered", day + 1, contact=contact, role=role),
        ev("email_clicked", day + 2, contact=contact, role=role),
    ]


def test_one_stakeholders_demo_request_does_not_make_the_account_sql() -> None:
    d = decide({}, {}, [ev("demo_requested", contact="c1", role="technical")], PLAYBOOK, T0)
    assert d.contacts["c1"].stage == Stage.SQL
    assert d.accounts["acme"].stage == Stage.ENGAGED  # mql and sql need two roles
    assert d.accounts["acme"].coverage == ("technical",)


def test_a_second_engaged_role_lets_the_account_follow_its_furthest_stakeholder() -> None:
    first = decide({}, {}, [ev("demo_requested", contact="c1", role="technical")], PLAYBOOK, T0)
    second = decide(first.contacts, first.accounts, engaged("c2", "finance", 1), PLAYBOOK, T0)
    account = second.accounts["acme"]
    assert account.stage == Stage.SQL
    assert account.coverage == ("finance", "technical")
    assert set(account.members) == {"c1", "c2"}
    assert [t.to_stage for t in second.transitions if t.subject_kind == "account"] == [Stage.SQL]


def test_account_score_sums_its_stakeholders() -> None:
    d = decide({}, {}, [*engaged("c1", "user"), *engaged("c2", "manager")], PLAYBOOK, T0)
    assert d.accounts["acme"].score == round(d.contacts["c1"].score + d.contacts["c2"].score, 6)


def test_a_closed_won_stakeholder_makes_the_account_a_customer_without_committee_gates() -> None:
    d = decide({}, {}, [ev("deal_closed_won", contact="c1", role="executive")], PLAYBOOK, T0)
    assert d.accounts["acme"].stage == Stage.ONBOARDING


def test_a_stakeholder_who_moves_to_another_account_leaves_the_old_committee() -> None:
    first = decide({}, {}, [*engaged("c1", "finance"), *engaged("c2", "technical")], PLAYBOOK, T0)
    assert first.accounts["acme"].coverage == ("finance", "technical")
    moved = decide(
        first.contacts,
        first.accounts,
        [ev("email_opened", 5, contact="c2", role="technical", account="globex")],
        PLAYBOOK,
        T0,
    )
    assert set(moved.accounts) == {"acme", "globex"}
    assert set(moved.accounts["acme"].members) == {"c1"}
    assert moved.accounts["acme"].coverage == ("finance",)
    assert moved.accounts["globex"].coverage == ("technical",)


NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
MAX_PLAYBOOK = PLAYBOOK.model_copy(
    update={"accounts": PLAYBOOK.accounts.model_copy(update={"score": "max"})}
)


def gated(**min_roles: int) -> Playbook:
    gates = {Stage(k): v for k, v in min_roles.items()}
    return PLAYBOOK.model_copy(
        update={"accounts": PLAYBOOK.accounts.model_copy(update={"min_roles": gates})}
    )


def person(
    key: str, stage: Stage | None, role: str | None = None, score: float = 1.0
) -> ContactState:
    traits = {"role": role} if role is not None else {}
    current = Progress(stage=stage, contact_traits=traits)
    return ContactState(key=key, account_key="acme", current=current, score=score)


def moved(key: str, to: Stage, event: str | None, at: datetime) -> Transition:
    return Transition(
        subject_kind="contact", subject_key=key, from_stage=None, to_stage=to,
        reason=TransitionReason.EVIDENCE, event_id=event, occurred_at=at,
    )  # fmt: skip


def account_moved(
    before: Stage | None, after: Stage, event: str | None, at: datetime
) -> Transition:
    return Transition(
        subject_kind="account", subject_key="acme", from_stage=before, to_stage=after,
        reason=TransitionReason.EVIDENCE, event_id=event, occurred_at=at,
    )  # fmt: skip


def engaged_account_with_finance_at(stage: Stage) -> AccountState:
    """An engaged account whose one member, in finance, is at ``stage``."""
    finance = Member(stage=stage, score=1.0, role="finance")
    return AccountState(
        key="acme",
        members={"c0": finance},
        stage=Stage.ENGAGED,
        stage_entered_at=NOW - timedelta(1),
    )


@pytest.mark.parametrize(
    ("people", "stage"),
    [
        ([("c1", Stage.ENGAGED, None)], Stage.ENGAGED),  # no gate on engaged, no role needed
        ([("c1", Stage.MQL, "finance")], Stage.ENGAGED),  # one role: held back one stage
        ([("c1", Stage.SQL, "finance"), ("c2", Stage.ONBOARDING, None)], Stage.ONBOARDING),
        ([("c1", Stage.DISQUALIFIED, None), ("c2", Stage.CHURNED, None)], Stage.CHURNED),
        ([("c1", Stage.DISQUALIFIED, None)], Stage.DISQUALIFIED),
        ([("c1", None, "finance")], None),
        ([("c1", Stage.SQL, "finance"), ("c2", Stage.SQL, "intern")], Stage.ENGAGED),
    ],
)
def test_the_account_follows_its_furthest_stakeholder_as_far_as_its_committee_allows(
    people: list[tuple[str, Stage | None, str | None]], stage: Stage | None
) -> None:
    state, _ = roll_up(AccountState(key="acme"), [person(*p) for p in people], PLAYBOOK, NOW)
    assert state.stage is stage


def test_an_account_never_falls_below_awareness_nor_stops_above_it_when_gates_say_so() -> None:
    alone = [person("c1", Stage.ENGAGED)]
    state, _ = roll_up(AccountState(key="acme"), alone, gated(engaged=1), NOW)
    assert state.stage is Stage.AWARENESS
    state, _ = roll_up(AccountState(key="acme"), alone, gated(engaged=1, awareness=1), NOW)
    assert state.stage is Stage.AWARENESS


def test_a_stage_change_no_contact_transition_explains_is_dated_by_the_batchs_last_event() -> None:
    contacts = [person("c1", Stage.ENGAGED, "finance")]
    seen = {"c1": NOW - timedelta(hours=2), "elsewhere": NOW - timedelta(hours=1)}
    state, moves = roll_up(AccountState(key="acme"), contacts, PLAYBOOK, NOW, last_seen=seen)
    assert moves == [account_moved(None, Stage.ENGAGED, None, NOW - timedelta(hours=2))]
    assert (state.stage, state.stage_entered_at) == (Stage.ENGAGED, NOW - timedelta(hours=2))
    _, moves = roll_up(AccountState(key="acme"), contacts, PLAYBOOK, NOW)
    assert moves == [account_moved(None, Stage.ENGAGED, None, NOW)]


def test_the_account_moves_with_each_contact_transition_in_time_then_event_order() -> None:
    before = engaged_account_with_finance_at(Stage.ENGAGED)
    at = NOW - timedelta(hours=1)
    contacts = [person("c1", Stage.MQL, "Technical"), person("c2", Stage.SQL, "user")]
    batch = [
        moved("c2", Stage.SQL, "0a", at),
        moved("c1", Stage.MQL, None, at),
        moved("elsewhere", Stage.SQL, "0b", at - timedelta(hours=1)),
        account_moved(None, Stage.ADVOCATE, "0c", at),
    ]
    state, moves = roll_up(before, contacts, PLAYBOOK, NOW, moves=batch)
    assert moves == [
        account_moved(Stage.ENGAGED, Stage.MQL, None, at),
        account_moved(Stage.MQL, Stage.SQL, "0a", at),
    ]
    assert (state.stage, state.stage_entered_at, state.coverage) == (
        Stage.SQL, at, ("finance", "technical", "user"))  # fmt: skip


def test_account_score_is_the_best_stakeholders_when_the_playbook_says_max() -> None:
    contacts = [person("c1", Stage.ENGAGED, score=2.5), person("c2", Stage.ENGAGED, score=4.0)]
    state, _ = roll_up(AccountState(key="acme"), contacts, MAX_PLAYBOOK, NOW)
    assert state.score == 4.0
    empty, _ = roll_up(AccountState(key="acme"), [], MAX_PLAYBOOK, NOW)
    assert empty.score == 0.0


def test_account_score_is_kept_to_six_decimals() -> None:
    state, _ = roll_up(AccountState(key="acme"), [person("c1", Stage.ENGAGED, score=0.1234567)],
                       PLAYBOOK, NOW)  # fmt: skip
    assert state.score == 0.123457


def test_a_role_that_completes_the_committee_moves_the_account_on_from_where_it_was() -> None:
    before = engaged_account_with_finance_at(Stage.MQL)
    state, moves = roll_up(before, [person("c1", Stage.ENGAGED, "technical")], PLAYBOOK, NOW)
    assert moves == [account_moved(Stage.ENGAGED, Stage.MQL, None, NOW)]
    assert (state.stage, state.stage_entered_at) == (Stage.MQL, NOW)
