"""A contact's window is written from its lines' escaped forms, kept between batches: the bytes
are exactly those of the window string written whole (what the stored format has always been),
whatever the events hold, read back from storage or kept in memory, and after appends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.state_codec import decode_contact, encode_contact
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.state import ContactState
from services.orchestrator.domain.window import appended, rest
from tests.unit.test_orchestrator_properties import NOW

TEXT = st.text(st.characters(codec="utf-8"))  # quotes, backslashes, control characters, emoji
PROPERTIES = st.dictionaries(
    TEXT, st.one_of(TEXT, st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none())
)


def _window_written_whole(stored: bytes) -> bytes:
    """The same state with its window string written by orjson in one piece."""
    value: list[Any] = orjson.loads(stored)
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


def _events(props: list[dict[str, Any]], start: int = 0) -> list[Engagement]:
    return [
        Engagement(event_id=f"e{start + i}", type="page_viewed",
                   occurred_at=NOW + timedelta(minutes=start + i), properties=p,
                   contact_key="c1", account_key="acme", contact_traits={"note": str(p)[:20]})
        for i, p in enumerate(props)
    ]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(PROPERTIES, max_size=6), st.lists(PROPERTIES, max_size=3), st.integers(0, 3))
def test_the_window_is_written_as_the_whole_string_would_be(
    first: list[dict[str, Any]], later: list[dict[str, Any]], drop: int
) -> None:
    state = ContactState(key="c1", account_key="acme", pending=tuple(_events(first)))
    written = encode_contact(state)
    assert written == _window_written_whole(written)
    loaded = decode_contact(written)  # lines as stored, unescaped
    assert encode_contact(loaded) == written
    assert encode_contact(loaded) == written, "escaped lines kept: the same bytes again"
    grown = replace(loaded, pending=rest(appended(loaded.pending, _events(later, 10)), drop))
    again = encode_contact(grown)
    assert again == _window_written_whole(again)
    assert decode_contact(again) == grown
    moved = replace(grown, account_key="globex")  # lines relative to acme are written anew
    assert decode_contact(encode_contact(moved)).pending == tuple(grown.pending)
