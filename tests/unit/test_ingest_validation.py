"""``check_vocabulary``: normalised properties and ``received_at`` swapped into each event,
equal to what ``model_copy(update=...)`` gives, field set and JSON included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic_core
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import EngagementEvent
from schemas.plausibility import TimeWindow
from schemas.vocabulary import KNOWN_TYPES, MAY_ASSERT, SourceKind
from services.ingest.validation import (
    ForbiddenEvents,
    InvalidEvents,
    Limits,
    check_body_depth,
    check_kinds,
    check_vocabulary,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _event(**over: Any) -> EngagementEvent:
    raw: dict[str, Any] = {
        "id": "e-1",
        "type": "page_viewed",
        "source": "test",
        "time": "2026-11-23T11:59:00Z",
        "contact": {"email": "Ada@Example.com"},
        "properties": {"path": "/Pricing", "utm": "x"},
    } | over
    return EngagementEvent.model_validate(raw)


@given(
    path=st.text(min_size=1, max_size=30),
    extra=st.dictionaries(st.sampled_from(["utm", "a", "b"]), st.integers(), max_size=3),
    received=st.none() | st.just(NOW),
    with_account=st.booleans(),
)
def test_the_stamped_event_equals_a_pydantic_copy(
    path: str, extra: dict[str, int], received: datetime | None, with_account: bool
) -> None:
    account = {"account": {"domain": "acme.example"}} if with_account else {}
    event = _event(properties={"path": path, **extra}, **account)
    (stamped,) = check_vocabulary([event], [("body",)], (), received)
    update: dict[str, Any] = {"properties": stamped.properties}
    if received is not None:
        update["received_at"] = received
    expected = event.model_copy(update=update)
    assert stamped == expected
    assert stamped.model_fields_set == expected.model_fields_set
    assert pydantic_core.to_json(stamped) == pydantic_core.to_json(expected)
    assert stamped.properties["is_pricing"] == ("/pricing" in path.lower())
    assert event.received_at is None and "is_pricing" not in event.properties  # not mutated


def test_a_stamped_event_stays_frozen_like_its_original() -> None:
    (stamped,) = check_vocabulary([_event()], [("body",)], (), NOW)
    with pytest.raises(pydantic_core.ValidationError):
        stamped.id = "other"  # type: ignore[misc]
    assert stamped.received_at == NOW and stamped.id == "e-1"


def test_bad_properties_are_located_inside_the_batch() -> None:
    good, bad = _event(), _event(id="e-2", type="nps_submitted", properties={"score": 11})
    with pytest.raises(InvalidEvents) as caught:
        check_vocabulary([good, bad], [("body", "events", 0), ("body", "events", 1)], (), NOW)
    assert [e["loc"] for e in caught.value.errors] == [["body", "events", 1, "properties", "score"]]


BATCH_LOCS = [("body", "events", 0), ("body", "events", 1), ("body", "events", 2)]


def _errors(events: list[EngagementEvent], limits: Limits | None = None) -> list[dict[str, Any]]:
    with pytest.raises(InvalidEvents) as caught:
        check_vocabulary(events, BATCH_LOCS[: len(events)], (), NOW, limits or Limits())
    return caught.value.errors


def test_a_duplicate_event_id_in_one_request_names_both_indexes() -> None:
    a, b, c = _event(id="x"), _event(id="y"), _event(id="x")
    (error,) = _errors([a, b, c])
    assert error["loc"] == ["body", "events", 2, "id"]
    assert "['body', 'events', 0]" in error["msg"] and error["type"] == "duplicate_id"


@pytest.mark.parametrize(
    ("time", "says"),
    [
        ("1999-12-31T23:59:59Z", "before 2000-01-01"),
        ("2000-01-01T00:59:59+01:00", "before 2000-01-01"),  # 23:59:59 UTC the day before
        ("2026-11-24T12:00:01Z", "in the future"),  # NOW + 1 day + 1 s
        ("9999-12-31T23:59:59-14:00", "representable"),
    ],
)
def test_times_outside_the_window_are_refused_after_normalising_to_utc(
    time: str, says: str
) -> None:
    (error,) = _errors([_event(time=time)])
    assert error["loc"] == ["body", "events", 0, "time"] and says in error["msg"]


@pytest.mark.parametrize("time", ["2000-01-01T00:00:00Z", "2026-11-24T12:00:00Z"])
def test_the_window_edges_are_accepted(time: str) -> None:
    (event,) = check_vocabulary([_event(time=time)], [("body",)], (), NOW, Limits())
    assert event.time.isoformat().startswith(time[:10])


def test_the_window_is_configurable() -> None:
    from datetime import timedelta

    late = Limits(TimeWindow(datetime(2020, 1, 1, tzinfo=UTC), timedelta(hours=1)))
    assert _errors([_event(time="2019-06-01T00:00:00Z")], late)[0]["type"] == "implausible_time"
    assert _errors([_event(time="2026-11-23T13:00:01Z")], late)[0]["type"] == "implausible_time"


def test_an_oversized_trait_value_is_refused_with_its_location() -> None:
    big = _event(contact={"email": "a@b.io", "traits": {"bio": "x" * 9000, "role": "cto"}})
    nested = _event(id="e-2", account={"domain": "a.io", "traits": {"blob": ["y" * 100] * 90}})
    errors = _errors([big, nested])
    assert [e["loc"] for e in errors] == [
        ["body", "events", 0, "contact", "traits", "bio"],
        ["body", "events", 1, "account", "traits", "blob"],
    ]


def test_a_phone_with_control_characters_is_refused() -> None:
    (error,) = _errors([_event(contact={"email": "a@b.io", "traits": {"phone": "+1415\x00555"}})])
    assert error["loc"][-1] == "phone" and error["type"] == "control_characters"


@pytest.mark.parametrize("field", ["id", "source"])
def test_control_characters_in_ids_fail_the_envelope(field: str) -> None:
    with pytest.raises(pydantic_core.ValidationError) as caught:
        _event(**{field: "a\x00b"})
    assert caught.value.errors()[0]["loc"] == (field,)


def test_control_characters_in_an_email_fail_the_envelope() -> None:
    with pytest.raises(pydantic_core.ValidationError):
        _event(contact={"email": "a\x07b@acme.example"})


def test_the_depth_check_refuses_deep_bodies_without_recursing() -> None:
    deep: Any = "leaf"
    for _ in range(5000):  # far beyond Python's recursion limit
        deep = {"a": [deep]}
    with pytest.raises(InvalidEvents) as caught:
        check_body_depth(deep)
    assert caught.value.errors[0]["type"] == "too_deep"
    shallow: Any = "leaf"
    for _ in range(16):  # 32 levels: a dict and a list per turn
        shallow = {"a": [shallow]}
    check_body_depth(shallow)  # no error at the limit


def test_the_received_from_stamp_overwrites_what_a_producer_wrote() -> None:
    (event,) = check_vocabulary(
        [_event(received_from="crm")], [("body",)], (), NOW, Limits(), "website"
    )
    assert event.received_from == "website"


@pytest.mark.parametrize("kind", list(SourceKind))
@pytest.mark.parametrize("event_type", KNOWN_TYPES)
def test_a_kind_may_send_exactly_the_types_in_its_row(kind: SourceKind, event_type: str) -> None:
    event = _event(type=event_type)
    if event_type in MAY_ASSERT[kind]:
        check_kinds(kind, [event], [("body",)])
    else:
        with pytest.raises(ForbiddenEvents) as caught:
            check_kinds(kind, [event], [("body",)])
        body = caught.value.body()
        assert body["event_type"] == event_type and kind.value not in body["allowed_kinds"]


def test_an_sdk_key_may_not_assert_consent_crm_facts_or_delivery() -> None:
    sdk = MAY_ASSERT[SourceKind.SDK]
    assert not sdk & {"consent_given", "consent_withdrawn", "crm_owner_changed", "deal_created"}
    assert "consent_given" in MAY_ASSERT[SourceKind.CONSENT]
    assert "crm_owner_changed" in MAY_ASSERT[SourceKind.CRM]
    assert not MAY_ASSERT[SourceKind.PROVIDER]


def test_a_forbidden_batch_names_every_refused_event() -> None:
    events = [_event(), _event(id="b", type="consent_given"), _event(id="c", type="deal_created")]
    with pytest.raises(ForbiddenEvents) as caught:
        check_kinds(SourceKind.SDK, events, BATCH_LOCS)
    body = caught.value.body()
    assert [r["loc"] for r in body["refused"]] == [["body", "events", 1], ["body", "events", 2]]
    assert body["allowed_kinds"] == ["consent"] and body["source_kind"] == "sdk"


def test_custom_types_are_behaviour() -> None:
    custom = _event(type="trial_extended")
    check_kinds(SourceKind.SERVER, [custom], [("body",)])
    with pytest.raises(ForbiddenEvents):
        check_kinds(SourceKind.CRM, [custom], [("body",)])
