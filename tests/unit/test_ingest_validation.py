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
from services.ingest.validation import InvalidEvents, check_vocabulary

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
    good, bad = _event(), _event(type="nps_submitted", properties={"score": 11})
    with pytest.raises(InvalidEvents) as caught:
        check_vocabulary([good, bad], [("body", "events", 0), ("body", "events", 1)], (), NOW)
    assert [e["loc"] for e in caught.value.errors] == [["body", "events", 1, "properties", "score"]]
