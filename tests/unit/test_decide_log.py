"""decide()'s log and edges, as the decision log and the timeline read them: the account's stage
entries, the contact's, what is ignored and why, imported history's own cutoff and re-dated
moves, the window's horizon at its boundary, and each playbook's own lateness."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.orchestrator.domain import decide as decide_module
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.stages import DecisionKind, IgnoreReason, Stage
from services.orchestrator.domain.state import AccountState
from tests.unit.orchestrator_events import T0, ev
from tests.unit.test_orchestrator_properties import PLAYBOOK

NOW = T0 + timedelta(days=3)


def test_an_account_s_stage_entry_names_the_account_the_move_and_its_evidence() -> None:
    e = ev("page_viewed", 1, path="/blog", is_pricing=False)
    d = decide({}, {}, [e], PLAYBOOK, NOW)
    moves = [t for t in d.transitions if t.subject_kind == "account"]
    assert [(t.from_stage, t.to_stage) for t in moves] == [(None, Stage.AWARENESS)]
    # dated at its stakeholders' last event, not at the clock that decided it
    assert moves[0].occurred_at == e.occurred_at == d.accounts["acme"].stage_entered_at
    entries = [e for e in d.log if e.contact_key is None]
    assert len(entries) == 1
    entry, rolled = entries[0], d.accounts["acme"]
    assert entry.kind is DecisionKind.STAGE_CHANGED
    assert entry.reason == f"{moves[0].reason}:{Stage.AWARENESS}"
    assert entry.account_key == "acme" and entry.event_id is None
    assert entry.facts == {"from": None, "coverage": list(rolled.coverage), "score": rolled.score}
    assert entry.decided_at == NOW and entry.playbook_version == PLAYBOOK.version


def test_a_contact_s_stage_entry_names_the_event_its_time_and_the_stage_it_left() -> None:
    e = ev("page_viewed", 1, path="/blog", is_pricing=False)
    d = decide({}, {}, [e], PLAYBOOK, NOW)
    [entry] = [x for x in d.log if x.contact_key == "c1"]
    assert entry.kind is DecisionKind.STAGE_CHANGED
    assert entry.event_id == e.event_id and entry.account_key == "acme"
    assert entry.facts["from"] is None
    assert entry.facts["occurred_at"] == e.occurred_at.isoformat()
    assert entry.decided_at == NOW


def test_one_event_twice_in_a_batch_is_folded_once_and_logged_a_duplicate() -> None:
    known = decide({}, {}, [ev("page_viewed", 0, path="/x")], PLAYBOOK, NOW).contacts
    e = ev("page_viewed", 1, path="/blog", is_pricing=False)
    d = decide(known, {}, [e, e], PLAYBOOK, NOW)
    ignored = [x for x in d.log if x.kind is DecisionKind.EVENT_IGNORED]
    assert [(x.reason, x.event_id) for x in ignored] == [(str(IgnoreReason.DUPLICATE), e.event_id)]
    assert ignored[0].facts == {} and ignored[0].decided_at == NOW
    assert ignored[0].account_key == "acme"
    assert d.contacts["c1"].current.engagements == 2


def test_imported_history_behind_the_window_is_applied_live_history_is_not() -> None:
    """Older than the lateness behind the newest event, after the checkpoint: imported history
    is still folded (its cutoff is the checkpoint), a live event is too late; the import
    re-dates the stored first engagement to its own, earlier event."""
    recent = ev("page_viewed", 100, path="/blog", is_pricing=False)
    now = T0 + timedelta(days=101)
    state = decide({}, {}, [recent], PLAYBOOK, now).contacts
    old = ev("page_viewed", 10, path="/blog", is_pricing=False)
    live = decide(state, {}, [old], PLAYBOOK, now)
    ignored = [x.reason for x in live.log if x.kind is DecisionKind.EVENT_IGNORED]
    assert ignored == [str(IgnoreReason.TOO_LATE)]
    assert live.redated == ()
    past = decide(state, {}, [old], PLAYBOOK, now, historical=True)
    assert past.contacts["c1"].current.engagements == 2
    [(stored, replayed)] = past.redated
    assert stored.event_id == recent.event_id and replayed.event_id == old.event_id


def test_an_event_exactly_at_the_horizon_leaves_the_window_and_its_moves_with_it() -> None:
    first = ev("page_viewed", 0, path="/blog", is_pricing=False)
    state = decide({}, {}, [first], PLAYBOOK, T0).contacts
    at_horizon = ev("page_viewed", PLAYBOOK.allowed_lateness_days, path="/blog", is_pricing=False)
    after = decide(state, {}, [at_horizon], PLAYBOOK, at_horizon.occurred_at).contacts["c1"]
    assert [e.event_id for e in after.pending] == [at_horizon.event_id]
    assert after.transitions == ()  # the first engagement's move left with its event
    just_inside = ev("page_viewed", PLAYBOOK.allowed_lateness_days - 0.001, path="/x")
    kept = decide(state, {}, [just_inside], PLAYBOOK, just_inside.occurred_at).contacts["c1"]
    assert [e.event_id for e in kept.pending] == [first.event_id, just_inside.event_id]
    assert len(kept.transitions) == 1


def test_the_horizon_follows_the_newest_event_not_a_later_clock() -> None:
    events = [ev("page_viewed", d, path="/blog", is_pricing=False) for d in (0, 20, 40)]
    much_later = T0 + timedelta(days=400)
    state = decide({}, {}, events, PLAYBOOK, much_later).contacts["c1"]
    assert [e.event_id for e in state.pending] == [e.event_id for e in events[1:]]
    old = decide({}, {}, events[:1], PLAYBOOK, T0).contacts
    state = decide(old, {}, events[1:], PLAYBOOK, much_later).contacts["c1"]
    assert [e.event_id for e in state.pending] == [e.event_id for e in events[1:]]


def test_each_playbook_keeps_its_own_lateness(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two playbooks, one after the other in one process, each from an empty memo."""
    monkeypatch.setattr(decide_module, "_LATENESS", {})
    for days in (7.25, 3.5):
        playbook = PLAYBOOK.model_copy(update={"allowed_lateness_days": days})
        events = [ev("page_viewed", d, path="/blog", is_pricing=False) for d in (0, 5, 10)]
        state = decide({}, {}, events, playbook, T0 + timedelta(days=10)).contacts["c1"]
        inside = [e.event_id for e in events if e.occurred_at > T0 + timedelta(days=10 - days)]
        assert [e.event_id for e in state.pending] == inside


def test_an_account_no_one_in_the_batch_belongs_to_is_not_rolled_up_again() -> None:
    other = AccountState(key="globex", stage=Stage.ENGAGED)
    d = decide({}, {"globex": other}, [ev("page_viewed", 1, path="/blog")], PLAYBOOK, NOW)
    assert set(d.accounts) == {"acme"}


def test_an_event_at_the_same_time_as_the_newest_replays_in_event_id_order() -> None:
    """Same time, smaller id: a replay puts it first, so the first engagement is its; live,
    nothing is re-dated (only imported history re-dates)."""
    b = ev("page_viewed", 1, event_id="b", path="/blog", is_pricing=False)
    state = decide({}, {}, [b], PLAYBOOK, NOW).contacts
    a = ev("page_viewed", 1, event_id="a", path="/blog", is_pricing=False)
    d = decide(state, {}, [a], PLAYBOOK, NOW)
    assert [t.event_id for t in d.contacts["c1"].transitions] == ["a"]
    assert d.redated == ()


def test_a_contact_joining_a_new_account_dates_its_stage_by_the_contact_s_last_event() -> None:
    """No contact moves in the batch: the new account's stage is dated by its stakeholder's
    last event in it, not by the clock that decided the batch."""
    kinds = ("content_downloaded", "webinar_registered", "email_clicked")
    steps = [ev(kind, day, role="finance") for day, kind in enumerate(kinds)]
    state = decide({}, {}, steps, PLAYBOOK, T0 + timedelta(days=3)).contacts
    assert state["c1"].stage is Stage.ENGAGED
    moved = ev("page_viewed", 10, account="globex", role="finance", path="/blog")
    d = decide(state, {}, [moved], PLAYBOOK, T0 + timedelta(days=20))
    assert [t for t in d.transitions if t.subject_kind == "contact"] == []
    [joined] = [t for t in d.transitions if t.subject_key == "globex"]
    assert joined.to_stage is Stage.ENGAGED and joined.occurred_at == moved.occurred_at
    assert d.accounts["globex"].stage_entered_at == moved.occurred_at
