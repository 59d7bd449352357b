"""The wire contract refuses what would silently lose meaning."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.events import EngagementEvent
from schemas.topics import ALL_TOPICS, dead_letter

BASE = {
    "id": "evt-1",
    "type": "page_viewed",
    "source": "web",
    "time": "2026-11-02T10:00:00Z",
    "contact": {"external_id": "c-1", "email": "ana@acme.com"},
}


def test_events_of_one_account_share_a_partition_key() -> None:
    a = EngagementEvent.model_validate({**BASE, "account": {"external_id": "acc-9"}})
    b = EngagementEvent.model_validate(
        {**BASE, "contact": {"external_id": "c-2"}, "account": {"external_id": "acc-9"}}
    )
    assert a.partition_key() == b.partition_key() == "a:acc-9"


def test_without_an_account_the_contact_is_the_key() -> None:
    assert EngagementEvent.model_validate(BASE).partition_key() == "c:c-1"


def test_a_timestamp_without_a_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        EngagementEvent.model_validate({**BASE, "time": "2026-11-02T10:00:00"})


def test_an_unknown_envelope_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        EngagementEvent.model_validate({**BASE, "tyype": "x"})


def test_a_contact_needs_some_identity() -> None:
    with pytest.raises(ValidationError, match="external_id, email or anonymous_id"):
        EngagementEvent.model_validate({**BASE, "contact": {"traits": {"role": "cfo"}}})


def test_every_topic_has_a_dead_letter_topic() -> None:
    mains = [t for t in ALL_TOPICS if not t.endswith(".dlq")]
    assert {dead_letter(t) for t in mains} <= set(ALL_TOPICS)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("Ana@Acme.Example", "ana@acme.example"), ("a.b+c@x.co.uk", "a.b+c@x.co.uk")],
)
def test_emails_are_lower_cased_for_identity_matching(given: str, expected: str) -> None:
    event = EngagementEvent.model_validate({**BASE, "contact": {"email": given}})
    assert event.contact.email == expected


@pytest.mark.parametrize("bad", ["bad", "a@b", "a b@c.com", "a@-b.com", "<a@b.com>"])
def test_malformed_emails_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        EngagementEvent.model_validate({**BASE, "contact": {"email": bad}})
