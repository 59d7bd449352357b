"""Segment calls to events: a valid batch is validated as whole lists, and gives exactly what
translating call by call gives; a batch with errors is walked call by call to locate each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.segment import MAX_EVENT_BYTES, _one_by_one, _to_events
from services.ingest.validation import InvalidEvents
from trellis.sources import Source, SourceKind

SOURCE = Source("s-1", "web", SourceKind.SDK, False, None)

# ids are printable: a control character is refused (tested in test_ingest_validation)
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))

calls = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "page", "identify", "group"]),
        "messageId": st.text(PRINTABLE, min_size=1, max_size=20),
        "userId": st.text(PRINTABLE, min_size=1, max_size=10) | st.integers(-(2**53), 2**53),
        "timestamp": st.just("2026-11-23T10:00:00Z"),
        "event": st.sampled_from(["Demo Requested", "Page Viewed", "  Webinar   Attended! "]),
    },
    optional={
        "groupId": st.text(PRINTABLE, min_size=1, max_size=10),
        "properties": st.just({"path": "/pricing", "webinar_id": "w-1"}),
        "traits": st.just({"email": "Ada@Example.com", "title": "CTO"}),
    },
)


def _locs(items: list[Any]) -> list[tuple[str | int, ...]]:
    return [("body", "batch", i) for i in range(len(items))]


@given(st.lists(calls, min_size=1, max_size=8))
def test_a_valid_batch_translates_as_call_by_call_does(items: list[dict[str, Any]]) -> None:
    received = datetime(2026, 11, 23, 12, tzinfo=UTC)
    size = len(orjson.dumps({"batch": items}))
    fast = _to_events(items, SOURCE, _locs(items), size)
    slow = _one_by_one(items, SOURCE, _locs(items), received)
    assert [e.model_dump() for e in fast] == [e.model_dump() for e in slow]
    assert [e.id for e in fast] == [i["messageId"] for i in items]


def test_every_error_of_a_batch_is_located_by_its_index() -> None:
    good = {"type": "track", "event": "Demo Requested", "userId": "u", "messageId": "m-0"}
    items = [
        good,
        {**good, "type": "alias"},
        good,
        {**good, "messageId": "m" * 201},
        {**good, "userId": None, "anonymousId": None},
    ]
    with pytest.raises(InvalidEvents) as caught:
        _to_events(items, SOURCE, _locs(items), 1_000)
    located = {tuple(e["loc"][:3]) for e in caught.value.errors}
    assert located == {("body", "batch", 1), ("body", "batch", 3), ("body", "batch", 4)}


def test_an_event_over_the_per_event_cap_is_refused_by_index() -> None:
    small = {"type": "track", "event": "Page Viewed", "userId": "u", "messageId": "m-0"}
    big = {**small, "properties": {"blob": "x" * MAX_EVENT_BYTES}}
    items = [small, big]
    with pytest.raises(HTTPException) as caught:
        _to_events(items, SOURCE, _locs(items), len(orjson.dumps({"batch": items})))
    assert caught.value.status_code == 400 and "['body', 'batch', 1]" in str(caught.value.detail)
