"""The B2B event vocabulary: each type's properties are typed; unknown types are named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.vocabulary import (
    KNOWN_TYPES,
    SourceKind,
    UnknownEventType,
    kinds_allowed,
    kinds_table,
    may_assert,
    validate_properties,
)


def test_every_documented_type_is_in_the_vocabulary() -> None:
    assert len(KNOWN_TYPES) == 26  # 24 engagement types + identify/group
    assert {"page_viewed", "nps_submitted", "consent_withdrawn", "deal_closed_won"} <= set(
        KNOWN_TYPES
    )


@pytest.mark.parametrize(
    ("event_type", "properties", "expected"),
    [
        ("page_viewed", {"path": "/pricing"}, {"path": "/pricing", "is_pricing": True}),
        ("page_viewed", {"url": "https://a.io/b"}, {"url": "https://a.io/b", "is_pricing": False}),
        ("page_viewed", {"path": "/x", "is_pricing": True}, {"path": "/x", "is_pricing": True}),
        ("nps_submitted", {"score": 0}, {"score": 0}),
        ("nps_submitted", {"score": 10, "comment": "great"}, {"score": 10, "comment": "great"}),
        ("consent_withdrawn", {"channel": "sms"}, {"channel": "sms"}),
        ("demo_requested", {}, {}),
        ("deal_created", {"deal_id": "d1", "amount": 5, "currency": "EUR"},
         {"deal_id": "d1", "amount": 5.0, "currency": "EUR"}),
        ("content_downloaded", {"content_id": "c1", "vendor_field": 1},
         {"content_id": "c1", "vendor_field": 1}),
    ],
)  # fmt: skip
def test_valid_properties_are_normalised(
    event_type: str, properties: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert validate_properties(event_type, properties) == expected


@pytest.mark.parametrize(
    ("event_type", "properties", "field"),
    [
        ("nps_submitted", {"score": 11}, "score"),
        ("nps_submitted", {"score": -1}, "score"),
        ("nps_submitted", {}, "score"),
        ("consent_withdrawn", {"channel": "fax"}, "channel"),
        ("page_viewed", {}, None),
        ("seats_changed", {"seats": -3}, "seats"),
        ("deal_created", {"deal_id": "d", "currency": "euro"}, "currency"),
        ("webinar_registered", {"webinar_id": "w", "starts_at": "2026-01-01T10:00"}, "starts_at"),
        ("email_clicked", {}, "url"),
    ],
)  # fmt: skip
def test_invalid_properties_name_the_field(
    event_type: str, properties: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_properties(event_type, properties)
    if field is not None:
        assert caught.value.errors()[0]["loc"][-1] == field


def test_unknown_type_lists_known_and_declared_types() -> None:
    with pytest.raises(UnknownEventType) as caught:
        validate_properties("trial_extended", {}, custom_types=["renewal_due"])
    assert "nps_submitted" in caught.value.known and "renewal_due" in caught.value.known
    assert caught.value.event_type == "trial_extended"
    assert str(caught.value) == "unknown event type 'trial_extended'"


def test_normalised_properties_are_json_ready() -> None:
    properties = {"webinar_id": "w1", "starts_at": "2026-01-01T10:00:00+01:00"}
    assert validate_properties("webinar_registered", properties) == properties


def test_declared_custom_type_passes_unchanged() -> None:
    assert validate_properties("renewal_due", {"x": 1}, custom_types=["renewal_due"]) == {"x": 1}


def test_a_mismatching_properties_type_is_an_error_not_silently_dropped() -> None:
    with pytest.raises(ValidationError):
        validate_properties("nps_submitted", {"score": 3, "type": "other"})


SDK, SERVER, CRM, CONSENT, PROVIDER = list(SourceKind)


@pytest.mark.parametrize(
    ("event_type", "kinds"),
    [
        ("page_viewed", {SDK, SERVER}),
        ("contact_identified", {SDK, SERVER, CRM, CONSENT}),
        ("meeting_booked", {SERVER, CRM}),
        ("seats_changed", {SERVER}),
        ("deal_closed_won", {CRM}),
        ("consent_withdrawn", {CONSENT}),
        ("trial_extended", {SDK, SERVER}),  # a custom type is behaviour
    ],
)
def test_each_event_type_may_be_asserted_by_exactly_its_kinds(
    event_type: str, kinds: set[SourceKind]
) -> None:
    assert kinds_allowed(event_type) == kinds
    assert {k for k in SourceKind if may_assert(k, event_type)} == kinds


def test_a_provider_may_assert_no_event_type() -> None:
    assert not any(may_assert(PROVIDER, t) for t in (*KNOWN_TYPES, "trial_extended"))


def test_the_kinds_table_groups_types_by_their_kinds_largest_group_first() -> None:
    assert kinds_table() == [
        ("sdk, server", [
            "contact_sales_requested", "content_downloaded", "demo_requested", "email_clicked",
            "email_opened", "form_submitted", "nps_submitted", "page_viewed", "product_activated",
            "usage_milestone", "webinar_attended", "webinar_registered",
        ]),
        ("crm", [
            "crm_lead_status_changed", "crm_owner_changed", "deal_closed_lost", "deal_closed_won",
            "deal_created", "deal_stage_changed",
        ]),
        ("server", ["seats_changed", "subscription_cancelled", "support_ticket_opened"]),
        ("consent", ["consent_given", "consent_withdrawn"]),  # ties: by the kinds' names
        ("sdk, server, crm, consent", ["account_linked", "contact_identified"]),
        ("server, crm", ["meeting_booked"]),
    ]  # fmt: skip


def test_the_kinds_table_names_every_known_type_once() -> None:
    listed = [t for _, types in kinds_table() for t in types]
    assert sorted(listed) == sorted(KNOWN_TYPES)
