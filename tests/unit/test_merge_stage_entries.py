"""An identify that joins an anonymous visitor and a known lead gives the survivor one stage
entry, whatever order the visits, the lead's events and the identify arrive in and however they
are batched; and the survivor ends where one contact replaying every event would (the oracle).
Late events never vanish: one too late to change the stage is logged with the event itself."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EngagementEvent
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.decide import absorb_merges, decide
from services.orchestrator.domain.engagement import to_engagement
from services.orchestrator.domain.identity import contact_aliases, resolve_contacts
from services.orchestrator.domain.stages import IgnoreReason, Stage
from services.orchestrator.domain.state import ContactState, Transition

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PLAYBOOK = default_playbook()
VISITOR = {"anonymous_id": "v-1"}
LEAD = {"email": "ana@acme.example"}


def _event(n: int, kind: str, contact: dict[str, Any], minutes: int) -> EngagementEvent:
    properties = {"path": "/pricing"} if kind == "page_viewed" else {}
    if kind == "content_downloaded":
        properties = {"content_id": f"guide-{n}"}
    return EngagementEvent.model_validate({
        "id": f"e-{n}", "type": kind, "source": "test", "contact": contact,
        "time": (T0 + timedelta(minutes=minutes)).isoformat(), "properties": properties,
    })  # fmt: skip


HISTORY = [
    _event(1, "page_viewed", VISITOR, 1),
    _event(2, "page_viewed", VISITOR, 2),
    _event(3, "content_downloaded", LEAD, 3),
    _event(4, "contact_identified", {**VISITOR, **LEAD}, 4),
    _event(5, "page_viewed", VISITOR, 5),
    _event(6, "content_downloaded", LEAD, 6),
]


class Store:
    """What the handler keeps between batches: aliases, contact states, stage history."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.states: dict[str, ContactState] = {}
        self.history: list[Transition] = []

    def apply(self, batch: list[EngagementEvent], now: datetime) -> None:
        batch = sorted(batch, key=lambda e: (e.time, e.id))
        wanted = {a for e in batch for a in contact_aliases(e)}
        res = resolve_contacts(batch, {a: c for a, c in self.aliases.items() if a in wanted})
        ids = set(res.contact_of.values()) | {m.loser for m in res.merges}
        kept, moved = absorb_merges({k: self.states[k] for k in ids if k in self.states},
                                    res.merges)  # fmt: skip
        events = [to_engagement(e, res.contact_of[e.id], None) for e in batch]
        decision = decide(kept, {}, [*events, *moved], PLAYBOOK, now)
        self.aliases |= res.new_aliases | res.moved_aliases
        for m in res.merges:
            self.states.pop(m.loser, None)
        self.states |= decision.contacts
        self.history += [t for t in decision.transitions if t.subject_kind == "contact"]


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(HISTORY))), st.sets(st.integers(1, len(HISTORY) - 1)))
def test_a_merge_gives_one_stage_entry_in_any_order_and_batching(
    order: list[int], cuts: set[int]
) -> None:
    arrival = [HISTORY[i] for i in order]
    bounds = [0, *sorted(cuts), len(arrival)]
    store = Store()
    for start, end in pairwise(bounds):
        store.apply(arrival[start:end], T0 + timedelta(hours=1))
    survivor = store.aliases["email:ana@acme.example"]
    assert store.aliases["anon:v-1"] == survivor
    mine = [t for t in store.history if t.subject_key == survivor]
    entries = Counter((t.from_stage, t.to_stage) for t in mine)
    assert entries[(None, Stage.AWARENESS)] == 1, mine
    assert max(entries.values()) == 1, "no stage entered twice the same way"
    oracle = decide(
        {}, {}, [to_engagement(e, "one", None) for e in HISTORY], PLAYBOOK, T0 + timedelta(hours=1)
    )
    assert store.states[survivor].stage == oracle.contacts["one"].stage
    assert store.states[survivor].current.engagements == oracle.contacts["one"].current.engagements


def test_an_event_too_late_to_change_the_stage_is_logged_with_itself_and_its_window() -> None:
    store = Store()
    store.apply([_event(1, "content_downloaded", LEAD, 60 * 24 * 40)], T0 + timedelta(days=41))
    (before,) = store.states.values()
    old = _event(2, "demo_requested", LEAD, 0)  # 40 days behind the newest event seen
    decision = decide(
        {before.key: before}, {}, [to_engagement(old, before.key, None)], PLAYBOOK,
        T0 + timedelta(days=41),
    )  # fmt: skip
    (entry,) = [e for e in decision.log if e.contact_key == before.key]
    assert (entry.kind, entry.reason, entry.event_id) == ("event_ignored", IgnoreReason.TOO_LATE,
                                                          "e-2")  # fmt: skip
    assert entry.facts == {
        "type": "demo_requested", "occurred_at": T0.isoformat(), "properties": {},
        "window_days": PLAYBOOK.allowed_lateness_days,
        "compared_with": (T0 + timedelta(days=40)).isoformat(),
    }  # fmt: skip
    assert decision.contacts[before.key].stage == before.stage, "it changed no stage"
    assert not decision.transitions
