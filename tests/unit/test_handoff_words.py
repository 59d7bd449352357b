"""The dashboard timeline says a handoff's steps in words, and the handoff story reads the deal
from the closed-won event's properties however the CRM spells them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.orchestrator.dashboard.words import describe
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.handoff_story import Deal, Stakeholder, handoff_story
from services.orchestrator.domain.handoffs import HandoffKind

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FACTS = {"handoff": "h1", "kind": "sql_first_contact", "team": "sales", "owner": "dana@x",
         "previous_owner": "mo@x", "deadline_at": "2026-12-01T14:00:00+00:00"}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "reason", "extra", "said"),
    [
        (
            "handoff_created",
            "HANDOFF",
            {},
            "Handed over from mo@x to dana@x (sales): first contact",
        ),
        ("handoff_breached", "SLA_BREACHED", {}, "dana@x is reminded"),
        ("handoff_escalated", "SLA_ESCALATED", {"to": "lee@x"}, "escalated to lee@x"),
        ("handoff_completed", "HANDOFF_DONE", {"by": "meeting_booked"}, "dana@x took first"),
        ("handoff_completed", "HANDOFF_SUPERSEDED", {}, "overtaken by the account's next"),
    ],
)
def test_the_timeline_says_each_handoff_step(
    kind: str, reason: str, extra: dict[str, str], said: str
) -> None:
    item = {"kind": kind, "reason": reason, "facts": FACTS | extra,
            "decided_at": datetime(2026, 12, 1, tzinfo=UTC)}  # fmt: skip
    assert said in describe(item, {"id": "c1"}, None, ConsentLedger(), NOW)


def test_the_deal_is_read_from_lists_or_strings_and_a_bad_amount_is_not_invented() -> None:
    deal = Deal.of({"deal_id": "D1", "amount": "12000", "currency": "USD",
                    "product": "Core; SSO", "success_criteria": "Live in 30 days"})  # fmt: skip
    assert (deal.amount, deal.products, deal.outcomes) == (12000.0, ("Core", "SSO"),
                                                           ("Live in 30 days",))  # fmt: skip
    assert "12,000 USD" in deal.said() and "products: Core, SSO" in deal.said()
    bare = Deal.of({"amount": True})
    assert bare.amount is None and "amount not given" in bare.said()
    assert "no outcomes recorded" in bare.said()


def test_the_story_names_the_committee_and_falls_back_to_the_playbook_steps() -> None:
    at = datetime(2026, 12, 1, 10, tzinfo=UTC)
    story, points = handoff_story(
        HandoffKind.CSM_KICKOFF, [Stakeholder("Ana", "finance", ("attended a webinar",))],
        None, None, at, at,
    )  # fmt: skip
    said = [item["said"] for item in story]
    assert "Ana (finance): attended a webinar" in said
    assert "Handed over by: nobody owned it before" in said
    assert points[0].startswith("Book the kickoff")
