"""Converting the wire envelope into the domain's Engagement."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.events import EngagementEvent
from services.orchestrator.domain.engagement import to_engagement


def envelope(
    contact: dict[str, Any], account: dict[str, Any] | None = None, **extra: Any
) -> EngagementEvent:
    return EngagementEvent.model_validate(
        {
            "id": "evt-1",
            "type": extra.pop("type", "page_viewed"),
            "source": "test",
            "time": "2026-03-02T09:00:00+02:00",
            "contact": contact,
            "account": account,
            "properties": extra.pop("properties", {"path": "/"}),
        }
    )


@pytest.mark.parametrize(
    ("contact", "key"),
    [
        ({"external_id": "42", "email": "a@acme.io"}, "ext:42"),
        ({"email": "Ann@Acme.io", "anonymous_id": "anon-1"}, "email:ann@acme.io"),
        ({"anonymous_id": "anon-1"}, "anon:anon-1"),
    ],
    ids=["external_id_wins", "email_when_no_id", "anonymous_id_last"],
)
def test_contact_key_prefers_external_id_then_email_then_anonymous_id(
    contact: dict[str, Any], key: str
) -> None:
    assert to_engagement(envelope(contact)).contact_key == key


def test_account_key_is_external_id_else_lowercased_domain() -> None:
    assert (
        to_engagement(envelope({"email": "a@acme.io"}, {"external_id": "A1"})).account_key
        == "ext:A1"
    )
    assert (
        to_engagement(envelope({"email": "a@acme.io"}, {"domain": "Acme.IO"})).account_key
        == "domain:acme.io"
    )
    assert to_engagement(envelope({"email": "a@acme.io"})).account_key is None


def test_occurred_at_traits_and_derived_facts_are_carried_over() -> None:
    e = to_engagement(
        envelope(
            {"email": "a@acme.io", "traits": {"role": "finance"}},
            {"domain": "acme.io", "traits": {"industry": "saas"}},
            properties={"url": "https://acme.io/Pricing?plan=pro"},
        )
    )
    assert e.occurred_at.isoformat() == "2026-03-02T09:00:00+02:00"
    assert e.properties["is_pricing"] is True
    assert e.contact_traits == {"role": "finance"}
    assert e.account_traits == {"industry": "saas"}
    seats = to_engagement(
        envelope(
            {"external_id": "1"},
            type="seats_changed",
            properties={"seats": 30, "previous_seats": 20},
        )
    )
    assert seats.properties["seats_added"] == 10
