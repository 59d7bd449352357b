"""Imported history lands where it would have if imported first: after live traffic started,
a contact's older history (months of it, imported in batches in ``occurred_at`` order) gives
the same stage, score and stage entries as importing it before going live. Live events keep
the lateness window; history is refused only before what the checkpoint has folded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.decide import decide_contact, fold_contact
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.late_events import lateness_cutoff
from services.orchestrator.domain.stages import IgnoreReason
from services.orchestrator.domain.state import ContactState, Progress

PLAYBOOK = default_playbook()
LIVE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # going live
NOW = LIVE + timedelta(days=12)
KINDS = [
    ("page_viewed", {"path": "/blog"}),
    ("page_viewed", {"path": "/pricing", "is_pricing": True}),
    ("content_downloaded", {"content_id": "guide"}),
    ("content_downloaded", {"content_id": "cs", "content_type": "case_study"}),
    ("webinar_attended", {}),
    ("email_clicked", {}),
]


def _event(n: int, kind: int, at: datetime) -> Engagement:
    name, props = KINDS[kind]
    return Engagement(
        event_id=f"e-{n:04d}", type=name, occurred_at=at, properties=dict(props),
        contact_key="c-1", contact_traits={"role": "manager"},
    )  # fmt: skip


Stored = list[tuple[str | None, str, datetime, str | None]]


def _apply(
    state: ContactState, events: list[Engagement], size: int, historical: bool, stored: Stored
) -> ContactState:
    """Batches through ``fold_contact``; ``stored`` is the stage history table (re-dated too)."""
    for i in range(0, len(events), size):
        batch = events[i : i + size]
        state, new, log, moved = fold_contact(state, batch, PLAYBOOK, NOW, historical)
        assert not [e for e in log if e.reason == IgnoreReason.TOO_LATE]
        stored += [(t.from_stage, t.to_stage, t.occurred_at, t.event_id) for t in new]
        for old, now in moved:
            at = stored.index((old.from_stage, old.to_stage, old.occurred_at, old.event_id))
            stored[at] = (now.from_stage, now.to_stage, now.occurred_at, now.event_id)
    return state


def _fresh() -> ContactState:
    return ContactState(key="c-1", checkpoint=Progress(), current=Progress())


history_days = st.lists(st.integers(min_value=40, max_value=730), min_size=1, max_size=25)
live_days = st.lists(st.integers(min_value=0, max_value=11), min_size=1, max_size=6)
kinds = st.lists(st.integers(min_value=0, max_value=len(KINDS) - 1), min_size=31, max_size=31)


@settings(max_examples=60, deadline=None)
@given(history_days, live_days, kinds, st.integers(min_value=1, max_value=9))
def test_history_imported_after_live_traffic_ends_where_importing_it_first_would(
    past: list[int], recent: list[int], kind: list[int], size: int
) -> None:
    history = sorted(
        (_event(n, kind[n % 31], LIVE - timedelta(days=d)) for n, d in enumerate(past)),
        key=lambda e: e.sort_key,
    )
    live = [
        _event(100 + n, kind[(n + 7) % 31], LIVE + timedelta(days=d, minutes=n))
        for n, d in enumerate(sorted(recent))
    ]
    first_moves: Stored = []
    first = _apply(_fresh(), history, size, True, first_moves)
    first = _apply(first, live, 2, False, first_moves)
    after_moves: Stored = []
    after = _apply(_fresh(), live, 2, False, after_moves)
    after = _apply(after, history, size, True, after_moves)
    assert after.current.stage == first.current.stage
    assert after.score == first.score
    assert after.current == first.current
    assert sorted(after_moves, key=str) == sorted(first_moves, key=str)


def test_history_older_than_the_folded_checkpoint_is_logged_too_late() -> None:
    old = [_event(n, 0, LIVE - timedelta(days=300 - n)) for n in range(3)]
    state = _apply(_fresh(), [_event(9, 1, LIVE)], 1, False, [])
    later = LIVE + timedelta(days=90)
    state, _, _ = decide_contact(state, [_event(10, 2, later)], PLAYBOOK, later)
    assert state.checkpoint.as_of == LIVE  # 90 days of live traffic: the checkpoint folded
    assert lateness_cutoff(state, PLAYBOOK, historical=True) == LIVE
    _, _, log = decide_contact(state, old, PLAYBOOK, later, historical=True)
    assert [e.reason for e in log] == [IgnoreReason.TOO_LATE] * 3


def test_live_events_keep_the_lateness_window_that_history_is_spared() -> None:
    state = _apply(_fresh(), [_event(1, 1, LIVE)], 1, False, [])
    old = _event(2, 2, LIVE - timedelta(days=400))
    _, _, live_log = decide_contact(state, [old], PLAYBOOK, NOW)
    _, _, past_log = decide_contact(state, [old], PLAYBOOK, NOW, historical=True)
    assert [e.reason for e in live_log] == [IgnoreReason.TOO_LATE]
    assert past_log == []
