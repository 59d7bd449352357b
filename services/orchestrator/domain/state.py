"""Persisted lifecycle state and decide()'s outputs. All JSON-serialisable pydantic models.

A contact's state is a *checkpoint* (aggregates folded from events older than the playbook's
allowed lateness) plus the *pending* events inside that window, kept in full. ``current`` is
derived by replaying pending onto the checkpoint in occurred_at order, so the delivery order of
events inside the window never changes the result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.scoring import ScoreState
from services.orchestrator.domain.stages import DecisionKind, Stage, TransitionReason


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Progress(_Frozen):
    """Order-sensitive aggregates, always produced by folding events in occurred_at order."""

    stage: Stage | None = None
    stage_entered_at: datetime | None = None
    score: ScoreState = ScoreState()
    engagements: int = 0
    distinct: tuple[str, ...] = Field(default=(), description="scoring rules matched (sorted)")
    met: tuple[str, ...] = Field(default=(), description="'<stage>:<i>' any_of matches (sorted)")
    contact_traits: dict[str, Any] = Field(default_factory=dict)
    account_traits: dict[str, Any] = Field(default_factory=dict)
    fit: float = 0.0
    parked_at: datetime | None = None
    as_of: datetime | None = Field(default=None, description="latest occurred_at folded in")


class Transition(_Frozen):
    subject_kind: Literal["contact", "account"]
    subject_key: str
    from_stage: Stage | None
    to_stage: Stage
    reason: TransitionReason
    event_id: str | None
    occurred_at: datetime
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="score, fit, engagements, distinct when it happened"
    )

    @property
    def identity(self) -> tuple[str, str, str | None, datetime]:
        return (self.to_stage, self.reason, self.event_id, self.occurred_at)


class ContactState(_Frozen):
    key: str
    account_key: str | None = None
    checkpoint: Progress = Progress()
    pending: tuple[Engagement, ...] = ()
    current: Progress = Progress()
    transitions: tuple[Transition, ...] = Field(
        default=(), description="transitions derived from pending (to report only new ones)"
    )
    score: float = Field(default=0.0, description="score decayed to the last decide's now")
    playbook_version: str = ""

    @property
    def stage(self) -> Stage | None:
        return self.current.stage


class LogEntry(_Frozen):
    kind: DecisionKind
    reason: str
    contact_key: str | None
    account_key: str | None
    event_id: str | None
    facts: dict[str, Any]
    playbook_version: str
    decided_at: datetime


class Member(_Frozen):
    """An account's view of one stakeholder: enough to roll up without loading every contact."""

    stage: Stage | None
    score: float
    role: str | None


class AccountState(_Frozen):
    key: str
    members: dict[str, Member] = Field(default_factory=dict)
    stage: Stage | None = None
    stage_entered_at: datetime | None = None
    score: float = 0.0
    coverage: tuple[str, ...] = Field(default=(), description="committee roles engaged (sorted)")


class Decision(_Frozen):
    contacts: dict[str, ContactState]
    accounts: dict[str, AccountState]
    transitions: tuple[Transition, ...]
    log: tuple[LogEntry, ...]
