"""Late events and replays: when an event is too late to change the stage (and what the log
keeps of it), and which moves a replay reports anew or re-dates."""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from datetime import datetime

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.state import ContactState, Redated, Transition


def lateness_cutoff(
    state: ContactState, playbook: Playbook, historical: bool = False
) -> datetime | None:
    """An event at or before this time is too late: it is more than the allowed lateness
    behind the newest event already applied, or older than what the checkpoint has folded in.

    Imported history is refused only before the checkpoint: replaying the checkpoint, the
    pending live events and the history in ``occurred_at`` order is exact, so history imported
    after live traffic started (within the lateness window of going live, while the checkpoint
    has folded nothing older) ends where importing it first would have."""
    if historical:
        return state.checkpoint.as_of
    marks = [m for m in (state.checkpoint.as_of,) if m is not None]
    if state.current.as_of is not None:
        marks.append(state.current.as_of - playbook.lateness)
    return max(marks, default=None)


def too_late_facts(e: Engagement, state: ContactState, playbook: Playbook) -> dict[str, object]:
    """What the log keeps of an event too late to change the stage: the event itself, the
    window and the newest time it was compared with."""
    newest = state.current.as_of or state.checkpoint.as_of
    return {
        "type": e.type,
        "occurred_at": e.occurred_at.isoformat(),
        "properties": e.properties,
        "window_days": playbook.allowed_lateness_days,
        "compared_with": None if newest is None else newest.isoformat(),
    }


def not_reported(
    replayed: Sequence[Transition], reported: Sequence[Transition]
) -> list[Transition]:
    """The replayed transitions that are new. A replay (a late event, a merge) may re-date a
    move already reported (``None -> awareness`` now happens at an earlier event): that is the
    same stage entry, so each (from, to) reported before and not replayed as it was is matched
    once, in order, and only moves beyond those are new. A move replayed exactly as reported
    (same stage, reason, event, time) is the same one even if it now comes from another stage
    (an earlier late event moved the one before it): never reported twice."""
    seen = {t.identity for t in reported}
    left = Counter((t.from_stage, t.to_stage) for t in _moved(replayed, reported))
    new = []
    for t in replayed:
        if t.identity in seen:  # reported before exactly so, whatever it now comes from
            continue
        move = (t.from_stage, t.to_stage)
        if left[move] > 0:
            left[move] -= 1
        else:
            new.append(t)
    return new


def _moved(replayed: Sequence[Transition], reported: Sequence[Transition]) -> list[Transition]:
    """The reported moves a replay no longer has as they were (same stage, reason, event and
    time): the only ones a replayed move can be a re-dating of."""
    again = {t.identity for t in replayed}
    return [t for t in reported if t.identity not in again]


def redated(replayed: Sequence[Transition], reported: Sequence[Transition]) -> list[Redated]:
    """The reported moves a replay dates differently, paired as ``not_reported`` pairs them:
    history imported after live traffic moves "first engagement -> awareness" from the first
    live event back to the first historical one, where importing it first would have put it."""
    waiting: dict[tuple[object, object], deque[Transition]] = defaultdict(deque)
    for t in _moved(replayed, reported):
        waiting[(t.from_stage, t.to_stage)].append(t)
    seen = {t.identity for t in reported}
    out = []
    for t in replayed:
        stored = waiting.get((t.from_stage, t.to_stage)) if t.identity not in seen else None
        if stored:
            old = stored.popleft()
            if (old.occurred_at, old.event_id) != (t.occurred_at, t.event_id):
                out.append((old, t))
    return out


def too_late(at: datetime, cutoff: datetime, historical: bool) -> bool:
    """History may tie with the checkpoint's newest event: an import in (time, id) order
    sends it after that one."""
    return at < cutoff if historical else at <= cutoff
