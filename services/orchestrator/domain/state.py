"""Persisted lifecycle state and decide()'s outputs: frozen, slotted dataclasses.

A contact's state is a *checkpoint* (aggregates folded from events older than the playbook's
allowed lateness) plus the *pending* events inside that window, kept in full. ``current`` is
derived by replaying pending onto the checkpoint in occurred_at order, so the delivery order of
events inside the window never changes the result.

These are working objects, built millions of times on the hot path, so they are plain
dataclasses (validation happens once, at the wire boundary). They serialise to JSON by field name
(a contact through ``ContactState.to_dict``, which leaves out what can be restored); ``from_dict``
reads that back, and also the full shape written when they were pydantic models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.scoring import ScoreState
from services.orchestrator.domain.stages import DecisionKind, Stage, TransitionReason

_STAGES = Stage._value2member_map_
_REASONS = TransitionReason._value2member_map_


def _stage(value: str | None) -> Stage | None:
    return None if value is None else _STAGES[value]  # type: ignore[return-value]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


_NO_SCORE = ScoreState()


@dataclass(slots=True, frozen=True, kw_only=True)
class Progress:
    """Order-sensitive aggregates, always produced by folding events in occurred_at order.

    ``distinct``: scoring rules matched (sorted); ``met``: '<stage>:<i>' any_of matches (sorted);
    ``as_of``: the latest occurred_at folded in.
    """

    stage: Stage | None = None
    stage_entered_at: datetime | None = None
    score: ScoreState = _NO_SCORE
    engagements: int = 0
    distinct: tuple[str, ...] = ()
    met: tuple[str, ...] = ()
    contact_traits: dict[str, Any] = field(default_factory=dict)
    account_traits: dict[str, Any] = field(default_factory=dict)
    fit: float = 0.0
    parked_at: datetime | None = None
    as_of: datetime | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Progress:
        score = d.get("score")
        return cls(
            stage=_stage(d.get("stage")),
            stage_entered_at=_time(d.get("stage_entered_at")),
            score=ScoreState.from_dict(score) if score else _NO_SCORE,
            engagements=int(d.get("engagements", 0)),
            distinct=tuple(d.get("distinct") or ()),
            met=tuple(d.get("met") or ()),
            contact_traits=d.get("contact_traits") or {},
            account_traits=d.get("account_traits") or {},
            fit=float(d.get("fit", 0.0)),
            parked_at=_time(d.get("parked_at")),
            as_of=_time(d.get("as_of")),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class Transition:
    """``evidence``: score, fit, engagements, distinct when it happened."""

    subject_kind: Literal["contact", "account"]
    subject_key: str
    from_stage: Stage | None
    to_stage: Stage
    reason: TransitionReason
    event_id: str | None
    occurred_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[str, str, str | None, datetime]:
        return (self.to_stage, self.reason, self.event_id, self.occurred_at)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Transition:
        return cls(
            subject_kind=d["subject_kind"],
            subject_key=d["subject_key"],
            from_stage=_stage(d.get("from_stage")),
            to_stage=_STAGES[d["to_stage"]],  # type: ignore[arg-type]
            reason=_REASONS[d["reason"]],  # type: ignore[arg-type]
            event_id=d.get("event_id"),
            occurred_at=datetime.fromisoformat(d["occurred_at"]),
            evidence=d.get("evidence") or {},
        )


_NO_PROGRESS = Progress()


@dataclass(slots=True, frozen=True, kw_only=True)
class ContactState:
    """``transitions``: those derived from pending (to report only new ones); ``score``: decayed
    to the last decide's now."""

    key: str
    account_key: str | None = None
    checkpoint: Progress = _NO_PROGRESS
    pending: Sequence[Engagement] = ()  # a tuple, or a stored ``Window`` decoded when read
    current: Progress = _NO_PROGRESS
    transitions: tuple[Transition, ...] = ()
    score: float = 0.0
    playbook_version: str = ""

    @property
    def stage(self) -> Stage | None:
        return self.current.stage

    def to_dict(self) -> dict[str, Any]:
        """The stored shape, without what ``from_dict`` restores: an empty checkpoint, and in
        pending events the contact key, an account key equal to the state's, and traits equal
        to the previous pending event's. (Nested dataclasses are left for the JSON encoder.)"""
        out: dict[str, Any] = {"key": self.key, "account_key": self.account_key}
        if self.checkpoint != _NO_PROGRESS:
            out["checkpoint"] = self.checkpoint
        pending = []
        contact_traits: dict[str, Any] = {}
        account_traits: dict[str, Any] = {}
        for e in self.pending:
            item: dict[str, Any] = {
                "event_id": e.event_id,
                "type": e.type,
                "occurred_at": e.occurred_at,
                "properties": e.properties,
            }
            if e.contact_key != self.key:
                item["contact_key"] = e.contact_key
            if e.account_key != self.account_key:
                item["account_key"] = e.account_key
            if e.contact_traits != contact_traits:
                item["contact_traits"] = contact_traits = e.contact_traits
            if e.account_traits != account_traits:
                item["account_traits"] = account_traits = e.account_traits
            pending.append(item)
        out["pending"] = pending
        out["current"] = self.current
        out["transitions"] = self.transitions
        out["score"] = self.score
        out["playbook_version"] = self.playbook_version
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ContactState:
        """Reads ``to_dict``'s shape and the full one (every key of every pending event)."""
        key, account_key = d["key"], d.get("account_key")
        checkpoint, current = d.get("checkpoint"), d.get("current")
        pending = []
        contact_traits: dict[str, Any] = {}
        account_traits: dict[str, Any] = {}
        for e in d.get("pending") or ():
            contact_traits = e.get("contact_traits", contact_traits)
            account_traits = e.get("account_traits", account_traits)
            pending.append(
                Engagement(
                    event_id=e["event_id"],
                    type=e["type"],
                    occurred_at=datetime.fromisoformat(e["occurred_at"]),
                    properties=e.get("properties") or {},
                    contact_key=e.get("contact_key") or key,
                    account_key=e.get("account_key", account_key),
                    contact_traits=contact_traits,
                    account_traits=account_traits,
                )
            )
        return cls(
            key=key,
            account_key=account_key,
            checkpoint=Progress.from_dict(checkpoint) if checkpoint else _NO_PROGRESS,
            pending=tuple(pending),
            current=Progress.from_dict(current) if current else _NO_PROGRESS,
            transitions=tuple([Transition.from_dict(t) for t in d.get("transitions") or ()]),
            score=float(d.get("score", 0.0)),
            playbook_version=d.get("playbook_version", ""),
        )


@dataclass(slots=True, frozen=True, kw_only=True)
class LogEntry:
    kind: DecisionKind
    reason: str
    contact_key: str | None
    account_key: str | None
    event_id: str | None
    facts: dict[str, Any]
    playbook_version: str
    decided_at: datetime


@dataclass(slots=True, frozen=True, kw_only=True)
class Member:
    """An account's view of one stakeholder: enough to roll up without loading every contact."""

    stage: Stage | None
    score: float
    role: str | None


@dataclass(slots=True, frozen=True, kw_only=True)
class AccountState:
    """``coverage``: committee roles engaged (sorted)."""

    key: str
    members: dict[str, Member] = field(default_factory=dict)
    stage: Stage | None = None
    stage_entered_at: datetime | None = None
    score: float = 0.0
    coverage: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccountState:
        return cls(
            key=d["key"],
            members={
                k: Member(stage=_stage(m.get("stage")), score=float(m["score"]), role=m.get("role"))
                for k, m in (d.get("members") or {}).items()
            },
            stage=_stage(d.get("stage")),
            stage_entered_at=_time(d.get("stage_entered_at")),
            score=float(d.get("score", 0.0)),
            coverage=tuple(d.get("coverage") or ()),
        )


Redated = tuple[Transition, Transition]
"""A stored stage move and the same move as a replay now dates it (time, event)."""


@dataclass(slots=True, frozen=True, kw_only=True)
class Decision:
    contacts: dict[str, ContactState]
    accounts: dict[str, AccountState]
    transitions: tuple[Transition, ...]
    log: tuple[LogEntry, ...]
    redated: tuple[Redated, ...] = ()  # stored moves a replay of imported history re-dates
