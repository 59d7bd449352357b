"""The B2B event vocabulary: each type's properties are typed; unknown types are named."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.vocabulary import KNOWN_TYPES, UnknownEventType, validate_properties


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


def test_declared_custom_type_passes_unchanged() -> None:
    assert validate_properties("renewal_due", {"x": 1}, custom_types=["renewal_due"]) == {"x": 1}


def test_a_mismatching_properties_type_is_an_error_not_silently_dropped() -> None:
    with pytest.raises(ValidationError):
        validate_properties("nps_submitted", {"score": 3, "type": "other"})
