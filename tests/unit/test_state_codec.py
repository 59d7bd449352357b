"""The compact stored form of a contact's state (issue 15, item 2): every state reads back equal,
the old object form still reads, and the view readers look inside keeps the old shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.state_cache import StateCache
from services.orchestrator.adapters.state_codec import (
    contact_view,
    decode_contact,
    encode_contact,
    object_json,
    read_contact,
)
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.state import ContactState
from tests.unit.test_orchestrator_properties import NOW, PLAYBOOK, histories


@given(histories(span_minutes=90 * 24 * 60), st.integers(1, 4), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_every_state_reads_back_equal_from_both_forms(
    events: list[Engagement], chunks: int, rnd: Any
) -> None:
    contacts: dict[str, ContactState] = {}
    size = max(1, len(events) // chunks)
    for i in range(0, len(events), size):
        contacts |= decide(contacts, {}, events[i : i + size], PLAYBOOK, NOW).contacts
    for state in contacts.values():
        compact = encode_contact(state)
        assert decode_contact(compact) == state
        assert decode_contact(object_json(state)) == state, "the old form still reads"
        assert len(compact) < len(object_json(state))
        assert contact_view(compact) == orjson.loads(object_json(state))


def test_keys_and_traits_that_differ_from_the_state_are_kept() -> None:
    base = Engagement(event_id="a", type="page_viewed", occurred_at=NOW, contact_key="c1")
    pending = (
        base,
        Engagement(event_id="b", type="x", occurred_at=NOW + timedelta(seconds=1),
                   contact_key="loser", account_key=None, contact_traits={"role": "cfo"}),
        Engagement(event_id="c", type="x", occurred_at=NOW + timedelta(seconds=2),
                   contact_key="c1", account_key="other", account_traits={"n": 0}),
    )  # fmt: skip
    state = ContactState(key="c1", account_key="acme", pending=pending)
    assert decode_contact(encode_contact(state)) == state


def test_something_else_is_refused() -> None:
    with pytest.raises(ValueError):
        read_contact([2, 7, None, "", 0.0, 0, [], [], []])


def test_the_cache_serves_a_state_only_for_the_exact_text_it_was_stored_as() -> None:
    events = [Engagement(event_id="a", type="email_clicked", occurred_at=NOW, contact_key="c1")]
    state = decide({}, {}, events, PLAYBOOK, NOW).contacts["c1"]
    cache: StateCache[ContactState] = StateCache(read_contact)
    text = encode_contact(state).decode()
    cache.put("c1", text, state)
    assert cache.parse("c1", text) is state and cache.hits == 1
    rolled_back = object_json(state).decode()  # same state, another text: a miss, parsed anew
    assert cache.parse("c1", rolled_back) == state and cache.misses == 1
