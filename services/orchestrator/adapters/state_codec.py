"""The compact stored form of a contact's state (issue 15): positional JSON arrays, no keys.

The old form was a JSON object per state, with a key per field of every nested progress, award,
transition and pending event; reading it back looked every key up with a default. This one is
one array in a fixed order (first item: the format number, ``4``), so decoding is indexing and
encoding writes no names. Times stay ISO text (orjson writes and ``fromisoformat`` reads them in
C, and an event's own offset survives). The window is one JSON string of lines, an event on each
(standing alone), so reading a state parses one string for it, however many events it holds;
the state comes back with its window undecoded (``domain/window.py``): an in-order batch decodes
only the events it reads, and unread lines are written back as they came. ``decode_contact``
reads every form (the object form before migration 0209; format 2, whose window items took
their traits from the item before; format 3, a list of items); ``contact_view`` gives readers
that look inside a stored state (the timeline, the score breakdown) the old object shape.

Layout: ``[4, key, account_key, playbook_version, score, checkpoint, current, transitions,
window]`` with a progress ``[stage, stage_entered_at, score, engagements, distinct, met,
contact_traits, account_traits, fit, parked_at, as_of]`` (checkpoint ``0`` when empty), a score
``[value, as_of, {rule: [at, points, at, points, ...]}]``, a transition ``[from, to, reason,
event_id, occurred_at, evidence]`` and, per window line, ``[event_id, type, occurred_at,
properties, contact_traits, account_traits, account_key, contact_key]`` where ``0`` means empty
traits and the state's own keys, and trailing ``0``s are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.scoring import Award, ScoreState
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import ContactState, Progress, Transition
from services.orchestrator.domain.window import Window

FORMAT = 4
_STAGES: dict[str, Stage] = Stage._value2member_map_  # type: ignore[assignment]
_REASONS: dict[str, TransitionReason] = TransitionReason._value2member_map_  # type: ignore[assignment]
_EMPTY = Progress()
_NO_SCORE = ScoreState()
_OPTIONS = orjson.OPT_UTC_Z
_iso = datetime.fromisoformat


class _Escaped(str):
    """A window line as it stands inside the stored JSON string (quotes and backslashes
    escaped), kept as the slot's stored form once written: a window kept in memory between
    batches has only its new lines escaped, not the whole window string again."""

    __slots__ = ()


def encode_contact(state: ContactState) -> bytes:
    """The stored bytes of a contact's state (valid JSON, UTF-8). Window items read from storage
    and never read since go back as they came, unless the keys they are relative to changed."""
    key, account_key = state.key, state.account_key
    window = state.pending
    text: str | orjson.Fragment
    if isinstance(window, Window) and window.context in (None, (key, account_key)):
        window.context = (key, account_key)  # its stored forms are relative to these keys
        forms = window.stored_forms
        slots: list[object] | None = None
        for i, form in enumerate(forms):
            if form.__class__ is not _Escaped:
                if not isinstance(form, str):
                    slots = slots or window.stored()
                    form = _line(slots[i], key, account_key)
                forms[i] = _Escaped(orjson.dumps(form)[1:-1].decode())
        # the JSON string of the lines joined by newlines, as orjson would write it
        text = orjson.Fragment('"' + "\\n".join(forms) + '"')  # type: ignore[arg-type]
    else:
        text = "\n".join([_line(e, key, account_key) for e in window])
    checkpoint = 0 if state.checkpoint == _EMPTY else _progress(state.checkpoint)
    value = [
        FORMAT, key, account_key, state.playbook_version, state.score, checkpoint,
        _progress(state.current),
        [[t.from_stage, t.to_stage, t.reason, t.event_id, t.occurred_at, t.evidence]
         if t.subject_key == key else
         [t.from_stage, t.to_stage, t.reason, t.event_id, t.occurred_at, t.evidence, t.subject_key]
         for t in state.transitions],
        text,
    ]  # fmt: skip
    return orjson.dumps(value, option=_OPTIONS)


def _line(slot: object, key: str, account_key: str | None) -> str:
    """A window slot as its stored line: an unread one as it came, an event encoded."""
    if isinstance(slot, str):
        return slot
    item = (
        _item(slot, key, account_key) if isinstance(slot, Engagement) else slot
    )  # a format 3 item
    return orjson.dumps(item, option=_OPTIONS).decode()


def _item(e: Engagement, key: str, account_key: str | None) -> list[Any]:
    """A window event on its own (so it can be read alone): ``0`` for empty traits and for the
    state's keys, trailing ``0``s left out."""
    item: list[Any] = [
        e.event_id, e.type, e.occurred_at, e.properties, e.contact_traits or 0,
        e.account_traits or 0, 0 if e.account_key == account_key else e.account_key,
        0 if e.contact_key == key else e.contact_key,
    ]  # fmt: skip
    while len(item) > 4 and item[-1] == 0:
        item.pop()
    return item


def _read_item(key: str, account_key: str | None, stored: object) -> Engagement:
    item: list[Any] = orjson.loads(stored) if isinstance(stored, str) else stored  # type: ignore[assignment]
    n = len(item)
    return Engagement(
        event_id=item[0],
        type=item[1],
        occurred_at=_iso(item[2]),
        properties=item[3],
        contact_key=item[7] if n > 7 and item[7] != 0 else key,
        account_key=item[6] if n > 6 and item[6] != 0 else account_key,
        contact_traits=item[4] if n > 4 and item[4] != 0 else {},
        account_traits=item[5] if n > 5 and item[5] != 0 else {},
    )


def object_json(state: ContactState) -> bytes:
    """The old object form (``ContactState.to_dict``), for migration 0209's downgrade and the
    codec bench's comparison."""
    return orjson.dumps(state.to_dict(), option=_OPTIONS)


def _progress(p: Progress) -> list[Any]:
    s = p.score
    awards = {n: [x for a in aw for x in (a.at, a.points)] for n, aw in s.awards.items()}
    score = [s.value, s.as_of, awards]
    return [
        p.stage, p.stage_entered_at, score, p.engagements, p.distinct, p.met, p.contact_traits,
        p.account_traits, p.fit, p.parked_at, p.as_of,
    ]  # fmt: skip


def decode_contact(stored: bytes | str) -> ContactState:
    """A state from its stored text, in this form or the old object form."""
    return read_contact(orjson.loads(stored))


def read_contact(value: Any) -> ContactState:
    """A state from parsed stored JSON, either form."""
    if isinstance(value, Mapping):
        return ContactState.from_dict(value)
    _, key, account_key, version, score, checkpoint, current, moves, window = value
    if not isinstance(key, str):
        raise ValueError(f"not a stored contact state (format {value[0]!r})")
    pending: Sequence[Engagement]
    if value[0] == 2:  # written before window items stood alone: traits "as the previous one"
        pending = _read_window_2(window, key, account_key)
    else:
        slots = (window.split("\n") if window else []) if isinstance(window, str) else window
        forms = list(slots) if isinstance(window, str) else None
        read = partial(_read_item, key, account_key)
        pending = Window(slots, read, (key, account_key), forms)
    return ContactState(
        key=key,
        account_key=account_key,
        checkpoint=_EMPTY if checkpoint == 0 else _read_progress(checkpoint),
        pending=pending,
        current=_read_progress(current),
        transitions=tuple([_read_move(t, key) for t in moves]),
        score=float(score),
        playbook_version=version,
    )


def _read_window_2(window: list[Any], key: str, account_key: str | None) -> tuple[Engagement, ...]:
    pending = []
    contact_traits: dict[str, Any] = {}
    account_traits: dict[str, Any] = {}
    for item in window:
        n = len(item)
        if n > 4 and item[4] != 0:
            contact_traits = item[4]
        if n > 5 and item[5] != 0:
            account_traits = item[5]
        pending.append(
            Engagement(
                event_id=item[0],
                type=item[1],
                occurred_at=_iso(item[2]),
                properties=item[3],
                contact_key=item[7] if n > 7 and item[7] != 0 else key,
                account_key=item[6] if n > 6 and item[6] != 0 else account_key,
                contact_traits=contact_traits,
                account_traits=account_traits,
            )
        )
    return tuple(pending)


def _read_progress(v: list[Any]) -> Progress:
    stage, entered, score, engagements, distinct, met, ct, at, fit, parked, as_of = v
    value, scored_at, awards = score
    return Progress(
        stage=None if stage is None else _STAGES[stage],
        stage_entered_at=None if entered is None else _iso(entered),
        score=ScoreState(
            float(value),
            None if scored_at is None else _iso(scored_at),
            {n: tuple([Award(_iso(a[i]), float(a[i + 1])) for i in range(0, len(a), 2)])
             for n, a in awards.items()},
        ) if value or scored_at is not None or awards else _NO_SCORE,
        engagements=engagements,
        distinct=tuple(distinct),
        met=tuple(met),
        contact_traits=ct,
        account_traits=at,
        fit=float(fit),
        parked_at=None if parked is None else _iso(parked),
        as_of=None if as_of is None else _iso(as_of),
    )  # fmt: skip


def _read_move(t: list[Any], key: str) -> Transition:
    return Transition(
        subject_kind="contact",
        subject_key=t[6] if len(t) > 6 else key,
        from_stage=None if t[0] is None else _STAGES[t[0]],
        to_stage=_STAGES[t[1]],
        reason=_REASONS[t[2]],
        event_id=t[3],
        occurred_at=_iso(t[4]),
        evidence=t[5],
    )


def contact_view(stored: Any) -> dict[str, Any]:
    """The old object shape of a stored state (text, bytes or parsed, either form; ``{}`` for
    none), for readers that look inside it: the same keys as ``ContactState.to_dict``."""
    if isinstance(stored, str | bytes):
        stored = orjson.loads(stored) if stored else {}
    if not stored or isinstance(stored, Mapping):
        return dict(stored or {})
    try:
        view: dict[str, Any] = orjson.loads(object_json(read_contact(stored)))
    except (ValueError, TypeError, KeyError, IndexError):  # not a state: nothing to show
        return {}
    return view
