"""Incremental state (issue 15): folding batches onto a contact's state equals one replay of its
window, for any delivery order inside the lateness window, and an in-order event is folded once
(never a replay of the window)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.state_codec import decode_contact, encode_contact
from services.orchestrator.domain import lifecycle
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.lifecycle import replay
from services.orchestrator.domain.state import AccountState, ContactState, Progress, Transition
from tests.unit.orchestrator_events import T0
from tests.unit.test_orchestrator_properties import NOW, PLAYBOOK, histories


def _deliver(
    batches: list[list[Engagement]], stored: bool = False
) -> tuple[dict[str, ContactState], list[Transition]]:
    """``stored``: each state through its stored text between batches (its window read lazily)."""
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    reported: list[Transition] = []
    for batch in batches:
        d = decide(contacts, accounts, batch, PLAYBOOK, NOW)
        contacts |= {k: decode_contact(encode_contact(v)) if stored else v
                     for k, v in d.contacts.items()}  # fmt: skip
        accounts |= d.accounts
        reported.extend(t for t in d.transitions if t.subject_kind == "contact")
    return contacts, reported


def _batches(events: list[Engagement], rnd: Any, cuts: int) -> list[list[Engagement]]:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    points = sorted(rnd.sample(range(len(shuffled) + 1), min(cuts, len(shuffled) + 1)))
    return [shuffled[a:b] for a, b in zip([0, *points], [*points, len(shuffled)], strict=True)]


@given(histories(), st.randoms(use_true_random=False), st.integers(1, 8), st.booleans())
@settings(max_examples=200, deadline=None)
def test_incremental_fold_equals_a_full_replay_of_the_window(
    events: list[Engagement], rnd: Any, cuts: int, stored: bool
) -> None:
    """Every event is inside the 30-day window (20 days of history, decided on day 21)."""
    contacts, reported = _deliver(_batches(events, rnd, cuts), stored)
    for key, state in contacts.items():
        window = sorted((e for e in events if e.contact_key == key), key=lambda e: e.sort_key)
        current, moves = replay(Progress(), window, PLAYBOOK, key, NOW)
        assert state.current == current
        assert state.stage == current.stage
        assert state.score == round(current.score.at(NOW, PLAYBOOK.scoring.half_life_days), 6)
        assert [t.identity for t in state.transitions] == [t.identity for t in moves]
        assert [e.event_id for e in state.pending] == [e.event_id for e in window]
        assert state.checkpoint == Progress()
        entered = {t.to_stage for t in reported if t.subject_key == key}
        assert {t.to_stage for t in moves} <= entered, "each stage the replay enters is reported"


@given(histories(span_minutes=120 * 24 * 60), st.integers(1, 10), st.booleans())
@settings(max_examples=100, deadline=None)
def test_in_order_batches_across_the_window_equal_a_full_replay(
    events: list[Engagement], chunks: int, stored: bool
) -> None:
    """Events leaving the window go into the checkpoint; current is still the full replay."""
    ordered = sorted(events, key=lambda e: e.sort_key)
    size = max(1, len(ordered) // chunks)
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    contacts, _ = _deliver(batches, stored)
    later = NOW + timedelta(days=120)
    for key, state in contacts.items():
        window = [e for e in ordered if e.contact_key == key]
        current, _ = replay(Progress(), window, PLAYBOOK, key, NOW)
        assert state.current == current
        checkpoint, _ = replay(state.checkpoint, state.pending, PLAYBOOK, key, None)
        folded, _ = replay(Progress(), window, PLAYBOOK, key, None)
        assert checkpoint == folded, "checkpoint + window == every event folded in order"
        assert later > current.as_of if current.as_of else True


@pytest.fixture
def folded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the events ``apply_event`` folds, in order."""
    seen: list[str] = []
    apply_event = lifecycle.apply_event

    def counting(p: Progress, e: Engagement, playbook: Any, key: str) -> Any:
        seen.append(e.event_id)
        return apply_event(p, e, playbook, key)

    monkeypatch.setattr(lifecycle, "apply_event", counting)
    return seen


def test_an_in_order_event_is_folded_once_without_replaying_the_window(folded: list[str]) -> None:
    events = [
        Engagement(
            event_id=f"e{i}",
            type="page_viewed",
            occurred_at=T0 + timedelta(hours=i),
            properties={"path": "/blog", "is_pricing": False},
            contact_key="c1",
            account_key="acme",
        )
        for i in range(40)
    ]
    contacts, _ = _deliver([[e] for e in events])
    assert folded == [e.event_id for e in events], "each event folded exactly once"
    assert len(contacts["c1"].pending) == 40

    folded.clear()
    late = Engagement(
        event_id="late",
        type="page_viewed",
        occurred_at=T0 + timedelta(minutes=90),
        properties={"path": "/blog", "is_pricing": False},
        contact_key="c1",
        account_key="acme",
    )
    decide(contacts, {}, [late], PLAYBOOK, NOW)
    assert len(folded) == 41, "a late event rebuilds the window from the checkpoint"


def _event(event_id: str, type_: str, day: float, **properties: Any) -> Engagement:
    return Engagement(
        event_id=event_id, type=type_, occurred_at=T0 + timedelta(days=day),
        properties=properties, contact_key="c1", account_key="acme",
    )  # fmt: skip


def test_a_window_leaving_whole_after_a_recycle_timer_keeps_the_exact_checkpoint() -> None:
    """When a contact's whole window leaves, its checkpoint becomes the old ``current`` (no
    re-fold), except when that current holds a recycle timer fired after its last event at a
    batch's clock: a later event inside the lateness window but before the timer's due time
    must still be folded before the recycle, as a full replay does."""
    seen = _event("seen", "page_viewed", 0, path="/blog", is_pricing=False)
    out = _event("out", "crm_lead_status_changed", 1, status="disqualified")  # recycles day 181
    back = _event("back", "page_viewed", 200, path="/blog", is_pricing=False)
    late = _event("late", "webinar_attended", 175, webinar="w")  # inside the window, pre-recycle
    contacts: dict[str, ContactState] = {}
    for batch, day in (([seen, out], 182), ([back], 200), ([late], 201)):
        now = T0 + timedelta(days=day)
        contacts |= decide(contacts, {}, batch, PLAYBOOK, now).contacts
    expected, _ = replay(Progress(), [seen, out, late, back], PLAYBOOK, "c1", now)
    assert contacts["c1"].current == expected
    assert expected.engagements == 1, "the recycle at day 181 forgot the webinar of day 175"


def test_a_quiet_contact_s_window_leaving_whole_is_not_folded_again(folded: list[str]) -> None:
    """Sparse history (an import, a contact seen monthly): each batch's old window leaves whole;
    its fold is the old current, so each event is folded once, not again into the checkpoint."""
    monthly = [_event(f"m{i}", "page_viewed", 40 * i, path="/blog", is_pricing=False)
               for i in range(12)]  # fmt: skip
    contacts: dict[str, ContactState] = {}
    for e in monthly:
        contacts |= decide(contacts, {}, [e], PLAYBOOK, e.occurred_at).contacts
    assert folded == [e.event_id for e in monthly], "each event folded exactly once"
    state = contacts["c1"]
    assert [e.event_id for e in state.pending] == ["m11"]
    checkpoint, _ = replay(state.checkpoint, state.pending, PLAYBOOK, "c1", None)
    assert checkpoint == replay(Progress(), monthly, PLAYBOOK, "c1", None)[0]


@given(
    histories(span_minutes=700 * 24 * 60),
    st.integers(1, 10),
    st.lists(st.integers(0, 400), min_size=10, max_size=10),
    st.randoms(use_true_random=False),
)
@settings(max_examples=300, deadline=None)
def test_two_years_in_order_with_any_clock_keep_checkpoint_and_current_exact(
    events: list[Engagement], chunks: int, delays: list[int], rnd: Any
) -> None:
    """History spanning two years (windows leaving whole, recycle timers due), in order across
    batches and any order inside one, each batch decided up to 400 days after its last event
    (timers fire at that clock): the checkpoint plus the window is every event folded in order,
    and current is the full replay."""
    ordered = sorted(events, key=lambda e: e.sort_key)
    size = max(1, len(ordered) // chunks)
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    now = T0
    decided_at = {}  # a contact's state is as of the last batch that had its events
    for batch, delay in zip(batches, delays * 2, strict=False):
        now = max(now, batch[-1].occurred_at + timedelta(days=delay))
        shuffled = list(batch)
        rnd.shuffle(shuffled)
        d = decide(contacts, accounts, shuffled, PLAYBOOK, now)
        contacts |= d.contacts
        accounts |= d.accounts
        decided_at |= dict.fromkeys(d.contacts, now)
    for key, state in contacts.items():
        window = [e for e in ordered if e.contact_key == key]
        checkpoint, _ = replay(state.checkpoint, state.pending, PLAYBOOK, key, None)
        assert checkpoint == replay(Progress(), window, PLAYBOOK, key, None)[0]
        assert state.current == replay(Progress(), window, PLAYBOOK, key, decided_at[key])[0]


def _exact(state: ContactState, events: list[Engagement], now: Any) -> None:
    """The checkpoint plus the window is every event folded in order; current the replay."""
    ordered = sorted(events, key=lambda e: e.sort_key)
    checkpoint, _ = replay(state.checkpoint, state.pending, PLAYBOOK, "c1", None)
    assert checkpoint == replay(Progress(), ordered, PLAYBOOK, "c1", None)[0]
    assert state.current == replay(Progress(), ordered, PLAYBOOK, "c1", now)[0]


def test_fresh_events_leaving_with_the_old_window_are_folded_once(folded: list[str]) -> None:
    """An import's batch spanning months: the old window leaves whole and so do the batch's own
    older events; the checkpoint is the one fold's state after them, not a second fold."""
    first = _event("first", "page_viewed", 0, path="/blog", is_pricing=False)
    later = [_event(f"m{i}", "page_viewed", 40 * i, path="/pricing", is_pricing=True)
             for i in range(1, 4)]  # fmt: skip
    later.append(_event("m4", "demo_requested", 160))  # a move in the part that stays
    contacts = decide({}, {}, [first], PLAYBOOK, first.occurred_at).contacts
    folded.clear()
    now = later[-1].occurred_at
    d = decide(contacts, {}, later, PLAYBOOK, now)
    assert folded == [e.event_id for e in later], "each event folded exactly once"
    state = d.contacts["c1"]
    assert [e.event_id for e in state.pending] == ["m4"]
    _exact(state, [first, *later], now)
    moves = [t for t in d.transitions if t.subject_kind == "contact"]
    assert moves == list(replay(contacts["c1"].current, later, PLAYBOOK, "c1", now)[1])
    assert [t.event_id for t in moves if t.subject_key == "c1"][-1] == "m4"


def test_a_new_contact_s_first_batch_spanning_months_is_folded_once(folded: list[str]) -> None:
    events = [_event(f"m{i}", "page_viewed", 40 * i, path="/blog", is_pricing=False)
              for i in range(5)]  # fmt: skip
    now = events[-1].occurred_at
    d = decide({}, {}, list(reversed(events)), PLAYBOOK, now)
    assert folded == [e.event_id for e in events], "each event folded exactly once"
    state = d.contacts["c1"]
    assert [e.event_id for e in state.pending] == ["m4"]
    _exact(state, events, now)
    moves = [t for t in d.transitions if t.subject_kind == "contact"]
    assert [t.event_id for t in moves] == ["m0"]  # the first engagement, reported once


def test_a_late_event_s_rebuild_folds_what_leaves_once(folded: list[str]) -> None:
    """A late event replays the window from the checkpoint; the events that leave the window in
    that replay become the new checkpoint without being folded a second time."""
    early = [_event(f"e{i}", "page_viewed", i, path="/blog", is_pricing=False) for i in range(5)]
    contacts = decide({}, {}, early, PLAYBOOK, early[-1].occurred_at).contacts
    late = _event("late", "webinar_attended", 2.5, webinar="w")
    news = _event("news", "page_viewed", 33.5, path="/pricing", is_pricing=True)  # e0-e3 leave
    folded.clear()
    now = news.occurred_at
    d = decide(contacts, {}, [late, news], PLAYBOOK, now)
    assert sorted(folded) == sorted(["e0", "e1", "e2", "late", "e3", "e4", "news"])
    assert len(folded) == 7, "each event of the window folded once"
    state = d.contacts["c1"]
    assert [e.event_id for e in state.pending] == ["e4", "news"]
    _exact(state, [*early, late, news], now)


def test_an_event_at_the_newest_time_with_a_smaller_id_is_put_in_its_place() -> None:
    """Same time as the newest event, after the stage was entered: not an append (the window
    would go out of order), a replay in (time, event id) order."""
    first = _event("b0", "page_viewed", 0, path="/blog", is_pricing=False)
    newest = _event("b", "page_viewed", 1, path="/blog", is_pricing=False)
    contacts = decide({}, {}, [first, newest], PLAYBOOK, T0 + timedelta(days=2)).contacts
    same_time = _event("a", "page_viewed", 1, path="/x", is_pricing=False)
    state = decide(contacts, {}, [same_time], PLAYBOOK, T0 + timedelta(days=2)).contacts["c1"]
    assert [e.event_id for e in state.pending] == ["b0", "a", "b"]


def test_a_recycle_timer_due_by_the_clock_fires_after_an_appended_event() -> None:
    seen = _event("seen", "page_viewed", 0, path="/blog", is_pricing=False)
    out = _event("out", "crm_lead_status_changed", 1, status="disqualified")  # recycles day 181
    contacts = decide({}, {}, [seen, out], PLAYBOOK, T0 + timedelta(days=2)).contacts
    e3 = _event("e3", "page_viewed", 3, path="/blog", is_pricing=False)
    now = T0 + timedelta(days=200)
    state = decide(contacts, {}, [e3], PLAYBOOK, now).contacts["c1"]
    expected = replay(Progress(), [seen, out, e3], PLAYBOOK, "c1", now)[0]
    assert state.current == expected
    assert expected.stage is not contacts["c1"].current.stage, "the timer fired"


def test_an_event_before_a_fired_recycle_timer_is_replayed_before_it() -> None:
    """After the last event but before the stage a timer entered at the clock: a replay, so
    the event is folded while the contact was still disqualified."""
    seen = _event("seen", "page_viewed", 0, path="/blog", is_pricing=False)
    out = _event("out", "crm_lead_status_changed", 1, status="disqualified")  # recycles day 181
    contacts = decide({}, {}, [seen, out], PLAYBOOK, T0 + timedelta(days=182)).contacts
    mid = _event("mid", "webinar_attended", 100, webinar="w")
    now = T0 + timedelta(days=183)
    state = decide(contacts, {}, [mid], PLAYBOOK, now).contacts["c1"]
    assert state.current == replay(Progress(), [seen, out, mid], PLAYBOOK, "c1", now)[0]
