"""decide(): a batch of engagements in, new contact and account states, transitions and log out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from operator import attrgetter

from services.orchestrator.domain.accounts import roll_up
from services.orchestrator.domain.engagement import Engagement, plain_tz
from services.orchestrator.domain.identity import Merge, merged_into
from services.orchestrator.domain.late_events import (
    lateness_cutoff,
    not_reported,
    redated,
    too_late,
    too_late_facts,
)
from services.orchestrator.domain.lifecycle import replay
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import DecisionKind, IgnoreReason, TransitionReason
from services.orchestrator.domain.state import (
    AccountState,
    ContactState,
    Decision,
    LogEntry,
    Progress,
    Redated,
    Transition,
)
from services.orchestrator.domain.window import appended, rest

_EMPTY = Progress()  # frozen and never mutated: shared, instead of deep-copied defaults
_SORT_KEY = attrgetter("occurred_at", "event_id")  # Engagement.sort_key, without the property call


def decide(
    contacts: Mapping[str, ContactState],
    accounts: Mapping[str, AccountState],
    events: Sequence[Engagement],
    playbook: Playbook,
    now: datetime,
    historical: bool = False,
) -> Decision:
    """Pure: the states of the batch's contacts and accounts (missing ones start empty).
    ``historical``: the batch is imported history (see ``lateness_cutoff``)."""
    now = plain_tz(now)
    by_contact: dict[str, list[Engagement]] = defaultdict(list)
    for e in events:
        by_contact[e.contact_key].append(e)
    new_contacts: dict[str, ContactState] = {}
    transitions: list[Transition] = []
    log: list[LogEntry] = []
    redates: list[Redated] = []
    last_seen: dict[str, datetime] = {}
    for key, batch in by_contact.items():
        state = contacts.get(key) or ContactState(key=key, checkpoint=_EMPTY, current=_EMPTY)
        updated, moves, entries, moved = fold_contact(state, batch, playbook, now, historical)
        redates.extend(moved)
        new_contacts[key] = updated
        transitions.extend(moves)
        log.extend(entries)
        last_seen[key] = max([e.occurred_at for e in batch])
    by_account: dict[str, list[ContactState]] = defaultdict(list)
    leaving: dict[str, list[str]] = defaultdict(list)
    for c in new_contacts.values():
        if c.account_key is not None:
            by_account[c.account_key].append(c)
        before = contacts.get(c.key)
        if before is not None and before.account_key not in (None, c.account_key):
            leaving[str(before.account_key)].append(c.key)
    moves_of: dict[str, list[Transition]] = defaultdict(list)  # an account's stakeholders' moves
    for t in transitions:
        mover = new_contacts.get(t.subject_key)
        if mover is not None and mover.account_key is not None:
            moves_of[mover.account_key].append(t)
    new_accounts: dict[str, AccountState] = {}
    for key in sorted(by_account.keys() | (leaving.keys() & accounts.keys())):
        account = accounts.get(key) or AccountState(key=key)
        rolled, moves = roll_up(
            account, by_account.get(key, ()), playbook, now, leaving[key], moves_of[key], last_seen
        )
        new_accounts[key] = rolled
        transitions.extend(moves)
        log.extend(
            LogEntry(
                kind=DecisionKind.STAGE_CHANGED,
                reason=f"{t.reason}:{t.to_stage}",
                contact_key=None,
                account_key=key,
                event_id=None,
                facts={
                    "from": t.from_stage,
                    "coverage": list(rolled.coverage),
                    "score": rolled.score,
                },
                playbook_version=playbook.version,
                decided_at=now,
            )
            for t in moves
        )
    return Decision(
        contacts=new_contacts,
        accounts=new_accounts,
        transitions=tuple(transitions),
        log=tuple(log),
        redated=tuple(redates),
    )


def decide_contact(
    state: ContactState,
    events: Sequence[Engagement],
    playbook: Playbook,
    now: datetime,
    historical: bool = False,
) -> tuple[ContactState, list[Transition], list[LogEntry]]:
    """``fold_contact`` without the re-dated moves."""
    updated, new, log, _ = fold_contact(state, events, playbook, now, historical)
    return updated, new, log


def fold_contact(
    state: ContactState,
    events: Sequence[Engagement],
    playbook: Playbook,
    now: datetime,
    historical: bool = False,
) -> tuple[ContactState, list[Transition], list[LogEntry], list[Redated]]:
    """Apply a batch of one contact's events; duplicates and too-late events are logged, ignored.
    With the new moves, imported history returns the moves it re-dates (``redated``).

    Too late: at or before ``lateness_cutoff`` (imported history: before it). Such an event
    cannot change the stage, but it is not lost: its log entry keeps the event (type, time,
    properties) with the window and the newest time it was compared with, so the timeline
    shows it."""
    cutoff = lateness_cutoff(state, playbook, historical)
    newest = state.current.as_of  # every pending event is at or before it (folded into current)
    window_ids: set[str] | None = None  # gathered only for an event that could be one of them
    seen: set[str] = set()
    fresh: list[Engagement] = []
    log: list[LogEntry] = []
    for e in events:
        maybe_pending = newest is None or e.occurred_at <= newest
        if maybe_pending and window_ids is None:
            window_ids = {p.event_id for p in state.pending}
        kept: dict[str, object] = {}
        if e.event_id in seen or (maybe_pending and e.event_id in (window_ids or ())):
            reason = IgnoreReason.DUPLICATE
        elif cutoff is not None and too_late(e.occurred_at, cutoff, historical):
            reason, kept = IgnoreReason.TOO_LATE, too_late_facts(e, state, playbook)
        else:
            fresh.append(e)
            seen.add(e.event_id)
            continue
        log.append(
            _entry(DecisionKind.EVENT_IGNORED, reason, state, e.event_id, kept, playbook, now)
        )
    fresh.sort(key=_SORT_KEY)
    moved: list[Redated] = []
    account_key = None
    checkpoint = state.checkpoint
    settled = len(state.pending)
    appending = _appends(state, fresh, playbook)
    if appending:
        # The common case, O(fresh events): everything new happened after all we know, so the
        # window stays sorted by appending, and folding onto current equals a replay of it.
        pending: Sequence[Engagement] = appended(state.pending, fresh)
        horizon = _horizon(now, fresh[-1], playbook)
        leaving = _leaving(pending, horizon)
        k = leaving - settled
        if leaving and settled and k >= 0 and not _timed(state):
            # The whole old window leaves (sparse history: an import, a quiet contact): its fold
            # onto the checkpoint is the old ``current``; the fresh events leaving too are
            # folded once, on the way: the checkpoint is that fold's state after them.
            checkpoint, early = replay(state.current, fresh[:k], playbook, state.key, None)
            current, late = replay(checkpoint, fresh[k:], playbook, state.key, now)
            new = [*early, *late]
        else:
            current, new = replay(state.current, fresh, playbook, state.key, now)
            if leaving:  # each event is folded in here once, when it leaves the window
                checkpoint, _ = replay(checkpoint, pending[:leaving], playbook, state.key, None)
        transitions = [*state.transitions, *new] if new else list(state.transitions)
        account_key = _last_account(reversed(fresh))  # the window's newest events
    else:  # a late event (or a new playbook): replay the window in occurred_at order
        pending = sorted((*state.pending, *fresh), key=_SORT_KEY)
        horizon = _horizon(now, pending[-1] if pending else None, playbook)
        leaving = _leaving(pending, horizon)
        # the events leaving the window are the replay's first: the checkpoint is its state
        # after them, not a second fold of them
        checkpoint, early = replay(checkpoint, pending[:leaving], playbook, state.key, None)
        current, late = replay(checkpoint, pending[leaving:], playbook, state.key, now)
        transitions = [*early, *late]
        # with nothing reported yet (a new contact), every move is new
        new = not_reported(transitions, state.transitions) if state.transitions else transitions
        moved = redated(transitions, state.transitions) if historical else []
    if account_key is None:
        account_key = _last_account(reversed(pending)) or state.account_key
    updated = ContactState(
        key=state.key,
        account_key=account_key,
        checkpoint=checkpoint,
        pending=rest(pending, leaving),
        current=current,
        transitions=_inside(transitions, horizon),
        score=round(current.score.at(now, playbook.scoring.half_life_days), 6),
        playbook_version=playbook.version,
    )
    for t in new:
        facts: dict[str, object] = {
            "from": t.from_stage,
            **t.evidence,
            "occurred_at": t.occurred_at.isoformat(),
        }
        log.append(
            _entry(
                DecisionKind.STAGE_CHANGED,
                f"{t.reason}:{t.to_stage}",
                updated,
                t.event_id,
                facts,
                playbook,
                now,
            )
        )
    return updated, new, log, moved


def absorb_merges(
    states: Mapping[str, ContactState], merges: Sequence[Merge]
) -> tuple[dict[str, ContactState], list[Engagement]]:
    """The states without the merged-away contacts, and those contacts' pending events re-keyed
    to the contact they now are (through a chain of merges too): decided with the survivor's
    batch, they replay into one history (the domain dedups by event id)."""
    losers = {m.loser for m in merges}
    kept = {k: v for k, v in states.items() if k not in losers}
    moved = [
        replace(e, contact_key=merged_into(loser, merges))
        for loser in losers
        if loser in states
        for e in states[loser].pending
    ]
    return kept, moved


def _last_account(newest_first: Iterable[Engagement]) -> str | None:
    """The account the newest event naming one names."""
    for e in newest_first:
        if e.account_key:
            return e.account_key
    return None


_LATENESS: dict[float, timedelta] = {}  # allowed_lateness_days -> ``Playbook.lateness``


def _lateness(playbook: Playbook) -> timedelta:
    days = playbook.allowed_lateness_days
    lateness = _LATENESS.get(days)
    if lateness is None:
        lateness = _LATENESS.setdefault(days, playbook.lateness)
    return lateness


def _horizon(now: datetime, last: Engagement | None, playbook: Playbook) -> datetime:
    """Events at or before it leave the window: the lateness behind the newest event (or
    ``now``, if earlier)."""
    return min(now, last.occurred_at if last is not None else now) - _lateness(playbook)


def _leaving(pending: Sequence[Engagement], horizon: datetime) -> int:
    """How many of the (sorted) window's first events are at or before ``horizon``: scanned from
    the front, so the common case (none) costs one comparison, not one per event."""
    if not pending or pending[0].occurred_at > horizon:
        return 0
    n = 0
    for e in pending:
        if e.occurred_at > horizon:
            break
        n += 1
    return n


def _inside(transitions: Sequence[Transition], horizon: datetime) -> tuple[Transition, ...]:
    """The moves after ``horizon`` (those of the window); the whole tuple when the first is."""
    if not transitions or transitions[0].occurred_at > horizon:
        return tuple(transitions)
    return tuple(t for t in transitions if t.occurred_at > horizon)


def _timed(state: ContactState) -> bool:
    """True when ``current`` may hold a recycle timer fired after its last event (at a batch's
    ``now``): then it is not the plain fold of the window onto the checkpoint. Such a move is
    among the window's moves until a later batch folds past it."""
    return any(t.reason is TransitionReason.RECYCLED for t in state.transitions)


def _appends(state: ContactState, fresh: Sequence[Engagement], playbook: Playbook) -> bool:
    """True when folding ``fresh`` onto ``current`` equals a replay of the whole window."""
    if not fresh or state.playbook_version != playbook.version:
        return False
    first, current = fresh[0].occurred_at, state.current
    return (current.as_of is None or first > current.as_of) and (
        current.stage_entered_at is None or first > current.stage_entered_at
    )


def _entry(
    kind: DecisionKind,
    reason: str,
    state: ContactState,
    event_id: str | None,
    facts: dict[str, object],
    playbook: Playbook,
    now: datetime,
) -> LogEntry:
    return LogEntry(
        kind=kind,
        reason=str(reason),
        contact_key=state.key,
        account_key=state.account_key,
        event_id=event_id,
        facts=facts,
        playbook_version=playbook.version,
        decided_at=now,
    )
