"""Lifecycle stages, their order, and the reasons a subject changes stage."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Funnel stages in lifecycle order, then the two parked stages (outside the order)."""

    AWARENESS = "awareness"
    ENGAGED = "engaged"
    MQL = "mql"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    ONBOARDING = "onboarding"
    RETAINED = "retained"
    EXPANSION = "expansion"
    ADVOCATE = "advocate"
    CHURNED = "churned"
    DISQUALIFIED = "disqualified"

    @property
    def rank(self) -> int:
        """Position in the funnel; parked stages rank -1 (no evidence moves them forward)."""
        return _RANK.get(self, -1)

    @property
    def parked(self) -> bool:
        return self in (Stage.CHURNED, Stage.DISQUALIFIED)


FUNNEL: tuple[Stage, ...] = tuple(s for s in Stage if s not in (Stage.CHURNED, Stage.DISQUALIFIED))
_RANK: dict[Stage, int] = {s: i for i, s in enumerate(FUNNEL)}


class TransitionReason(StrEnum):
    """Why a stage changed: evidence (a rule met), an explicit CRM event, or a timer."""

    FIRST_ENGAGEMENT = "first_engagement"
    EVIDENCE = "evidence"
    CRM_EVENT = "crm_event"
    RECYCLED = "recycled"


class DecisionKind(StrEnum):
    STAGE_CHANGED = "stage_changed"
    EVENT_APPLIED = "event_applied"
    EVENT_IGNORED = "event_ignored"
    IDENTITY_MERGED = "identity_merged"
    CONSENT_CHANGED = "consent_changed"
    TOUCH_OUTCOME = "touch_outcome"


class IgnoreReason(StrEnum):
    DUPLICATE = "duplicate"
    TOO_LATE = "too_late"
