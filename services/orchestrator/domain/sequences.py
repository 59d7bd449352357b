"""Nurture sequences: per stage and persona, ordered steps with channel, template and delay."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.holdout import HoldoutShare
from services.orchestrator.domain.stages import Stage

SALES_OWNED_STAGES: frozenset[Stage] = frozenset({Stage.SQL, Stage.OPPORTUNITY})


class Owner(StrEnum):
    MARKETING = "marketing"
    SALES = "sales"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepConditions(_Model):
    """All given conditions must hold for the step to be planned."""

    roles: frozenset[str] = Field(default=frozenset(), description="empty: any role")
    min_nps: int | None = Field(default=None, ge=0, le=10, description="e.g. 9: promoters only")

    def hold(self, role: str | None, nps: int | None) -> bool:
        if self.roles and role not in self.roles:
            return False
        return self.min_nps is None or (nps is not None and nps >= self.min_nps)

    def unmet(self, role: str | None, nps: int | None) -> dict[str, str]:
        """Each condition that does not hold, with what was required and what was found."""
        out: dict[str, str] = {}
        if self.roles and role not in self.roles:
            out["roles"] = f"needs {', '.join(sorted(self.roles))}; is {role or 'unknown'}"
        if self.min_nps is not None and (nps is None or nps < self.min_nps):
            found = "no answer" if nps is None else str(nps)
            out["min_nps"] = f"needs {self.min_nps} or more; is {found}"
        return out


class Step(_Model):
    id: str = Field(min_length=1)
    channel: TouchChannel
    template: str = Field(min_length=1)
    delay: timedelta = Field(default=timedelta(0), ge=timedelta(0), description="after previous")
    window: str | None = Field(default=None, description="a named send window; None: channel's")
    conditions: StepConditions = StepConditions()

    @property
    def owner(self) -> Owner:
        return Owner.SALES if self.channel.is_reminder else Owner.MARKETING


class NurtureSequence(_Model):
    """The steps a contact in ``stage`` with one of ``roles`` (empty: any) receives."""

    id: str = Field(min_length=1)
    stage: Stage
    roles: frozenset[str] = frozenset()
    steps: tuple[Step, ...] = Field(min_length=1)
    exit_on: frozenset[str] = Field(
        default=frozenset(), description="event types that end the sequence (besides a new stage)"
    )
    holdout: HoldoutShare | None = None  # None: the plan's ``holdout``

    @model_validator(mode="after")
    def _check(self) -> NurtureSequence:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"sequence {self.id}: step ids must be unique")
        if self.stage in SALES_OWNED_STAGES and any(s.owner is Owner.MARKETING for s in self.steps):
            raise ValueError(f"sequence {self.id}: {self.stage} is sales-owned: reminders only")
        return self

    def serves(self, stage: Stage, role: str | None) -> bool:
        return self.stage is stage and (not self.roles or role in self.roles)
