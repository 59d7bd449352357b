"""The compact stored form of a contact's state (issue 15, item 2): every state reads back equal,
the old object form still reads, and the view readers look inside keeps the old shape."""

from __future__ import annotations

from dataclasses import replace
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
from services.orchestrator.domain.account_merge import absorb_account_merges
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.identity import AccountMerge
from services.orchestrator.domain.state import ContactState
from services.orchestrator.domain.window import Window
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
        assert contact_view(compact) == orjson.loads(object_json(state))


def test_the_compact_form_of_a_typical_state_is_a_fifth_smaller_or_more() -> None:
    """Not for every state: a window line is a JSON string inside the array, its quotes
    escaped, so a window of many property-less events carrying traits can come out a few bytes
    longer than the object form (hypothesis found one: 2,267 against 2,263 bytes)."""
    events = [
        Engagement(
            event_id=f"e{i}", type="page_viewed", occurred_at=NOW - timedelta(days=9 - i),
            properties={"path": "/pricing" if i % 3 else "/blog", "is_pricing": i % 3 > 0},
            contact_key="c1", account_key="acme", contact_traits={"role": "technical"},
        )
        for i in range(10)
    ]  # fmt: skip
    state = decide({}, {}, events, PLAYBOOK, NOW).contacts["c1"]
    assert len(state.pending) == 10
    assert len(encode_contact(state)) < 0.8 * len(object_json(state))  # 1,939 against 2,598


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


FORMAT_2 = (
    '[2,"c1","acme","v1",1.0,0,[null,null,[0.0,null,{}],0,[],[],{},{},0.0,null,null],[],'
    '[["e1","page_viewed","2026-03-02T09:00:00Z",{},{"role":"cfo"},{"n":1}],'
    '["e2","page_viewed","2026-03-02T10:00:00Z",{}]]]'
)


def test_format_2_items_take_their_traits_from_the_item_before() -> None:
    state = decode_contact(FORMAT_2)
    assert [e.contact_traits for e in state.pending] == [{"role": "cfo"}] * 2
    assert [e.account_traits for e in state.pending] == [{"n": 1}] * 2
    assert decode_contact(encode_contact(state)) == state


def test_format_3_windows_of_items_read_and_are_written_as_lines() -> None:
    state = decide({}, {}, _history(4), PLAYBOOK, NOW).contacts["c1"]
    old = orjson.loads(encode_contact(state))
    old[0], old[8] = 3, [orjson.loads(line) for line in old[8].split("\n")]
    read = decode_contact(orjson.dumps(old))
    assert read == state
    assert decode_contact(encode_contact(read)) == state


def _history(days: int) -> list[Engagement]:
    return [
        Engagement(
            event_id=f"e{d}", type="email_clicked", occurred_at=NOW - timedelta(days=days - d),
            contact_key="c1", account_key="acme", contact_traits={"role": "cfo"},
        )
        for d in range(days)
    ]  # fmt: skip


def test_an_in_order_batch_decodes_no_stored_event_it_does_not_read() -> None:
    history = _history(10)
    stored = encode_contact(decide({}, {}, history, PLAYBOOK, NOW).contacts["c1"])
    state = decode_contact(stored)
    window = state.pending
    assert isinstance(window, Window)
    newer = replace(history[-1], event_id="new", occurred_at=NOW + timedelta(hours=1))
    after = decide({"c1": state}, {}, [newer], PLAYBOOK, NOW + timedelta(hours=2)).contacts["c1"]
    assert not any(isinstance(s, Engagement) for s in window.stored()), "nothing decoded"
    again = encode_contact(after)
    lines = orjson.loads(again)[8].split("\n")
    assert lines[:10] == orjson.loads(stored)[8].split("\n"), "written back as they came"
    eager = decide({"c1": replace(state, pending=tuple(window))}, {}, [newer], PLAYBOOK,
                   NOW + timedelta(hours=2)).contacts["c1"]  # fmt: skip
    assert after == eager and decode_contact(again) == eager

    late = replace(
        history[3], event_id="late", occurred_at=history[3].occurred_at + timedelta(hours=12)
    )
    replayed = decide({"c1": decode_contact(again)}, {}, [late], PLAYBOOK, NOW).contacts["c1"]
    assert [e.event_id for e in replayed.pending][4:6] == ["late", "e4"], "replayed in order"


def test_a_batch_without_account_merges_decodes_no_stored_event_either() -> None:
    """The handler re-keys merged accounts before ``decide``: with no merge it must not walk a
    stored window (at 1M known contacts, where most states miss the cache, walking them was
    more than half of a batch's CPU)."""
    state = decode_contact(
        encode_contact(decide({}, {}, _history(10), PLAYBOOK, NOW).contacts["c1"])
    )
    window = state.pending
    assert isinstance(window, Window)
    kept = absorb_account_merges({"c1": state}, {}, {}, [])
    assert kept.contacts["c1"] is state
    assert not any(isinstance(s, Engagement) for s in window.stored()), "nothing decoded"

    merged = absorb_account_merges(
        {"c1": state}, {}, {}, [AccountMerge("acme", "globex", "external_id", "e1")]
    )
    assert merged.contacts["c1"].account_key == "globex"
    assert {e.account_key for e in merged.contacts["c1"].pending} == {"globex"}


def test_a_window_moved_to_another_account_is_written_relative_to_the_new_one() -> None:
    state = decode_contact(
        encode_contact(decide({}, {}, _history(3), PLAYBOOK, NOW).contacts["c1"])
    )
    moved = replace(state, account_key="globex")
    assert decode_contact(encode_contact(moved)).pending == tuple(state.pending)
    assert {e.account_key for e in decode_contact(encode_contact(moved)).pending} == {"acme"}


def test_a_window_kept_in_memory_is_encoded_once_per_event() -> None:
    history = _history(6)
    first = decide({}, {}, history[:5], PLAYBOOK, NOW).contacts["c1"]
    written = encode_contact(first)
    window = first.pending
    assert isinstance(window, Window)
    assert all(isinstance(f, str) for f in window.stored_forms), "lines kept once written"
    second = decide({"c1": first}, {}, history[5:], PLAYBOOK, NOW).contacts["c1"]
    later = second.pending
    assert isinstance(later, Window)
    assert later.stored_forms[:5] == window.stored_forms and later.stored_forms[5] is None
    assert decode_contact(encode_contact(second)) == second
    assert encode_contact(first) == written
    moved = replace(second, account_key="globex")  # lines relative to acme are not reused
    assert {e.account_key for e in decode_contact(encode_contact(moved)).pending} == {"acme"}
