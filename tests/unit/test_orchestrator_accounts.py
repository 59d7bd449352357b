"""Account roll-up: stage follows the furthest stakeholder, gated by buying-committee coverage."""

from __future__ import annotations

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.stages import Stage
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
