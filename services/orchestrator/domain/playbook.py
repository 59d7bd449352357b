"""The playbook: stages and entry rules, scoring, fit (ICP) and account roll-up, validated.

``Playbook.version`` is the sha256 of the file's bytes (set by the loader in
``adapters/playbook_file.py``); it is stored with every decision.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.orchestrator.domain.stages import Stage

Scalar = str | int | float | bool


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventMatch(_Model):
    """An event type, optionally narrowed by exact property values and numeric minimums."""

    type: str = Field(min_length=1)
    where: dict[str, Scalar] = Field(default_factory=dict)
    at_least: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @property
    def label(self) -> str:
        conditions = [f"{k}={v}" for k, v in self.where.items()]
        conditions += [f"{k}>={v:g}" for k, v in self.at_least.items()]
        return self.type + (f"({', '.join(conditions)})" if conditions else "")

    def matches(self, type_: str, properties: dict[str, Any]) -> bool:
        if type_ != self.type:
            return False
        if any(properties.get(k) != v for k, v in self.where.items()):
            return False
        for key, minimum in self.at_least.items():
            value = properties.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
                return False
        return True


class EntryRule(_Model):
    """Evidence for entering a funnel stage; all given conditions must hold (forward moves only)."""

    stage: Stage
    min_score: float | None = Field(default=None, ge=0)
    min_engagements: int = Field(default=0, ge=0)
    min_distinct: int = Field(default=0, ge=0, description="distinct scoring rules matched")
    any_of: tuple[EventMatch, ...] = ()
    min_fit: float | None = Field(default=None, ge=0, le=1)
    from_stage: Stage | None = Field(default=None, description="only from this stage or later")

    @field_validator("stage")
    @classmethod
    def _funnel_only(cls, stage: Stage) -> Stage:
        if stage.parked:
            raise ValueError(f"{stage} is entered by explicit events only, not by evidence")
        return stage


class ExplicitRule(_Model):
    """A CRM (or billing) event that sets the stage, backwards included."""

    event: EventMatch
    stage: Stage


class ScoringRule(_Model):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    event: EventMatch
    points: float = Field(description="negative for negative signals")
    cap: float | None = Field(default=None, gt=0, description="max points per window")
    window_days: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _cap_for_positive(self) -> ScoringRule:
        if self.points == 0:
            raise ValueError("points must not be 0")
        if self.cap is not None and self.points > self.cap:
            raise ValueError(f"points {self.points} exceed the cap {self.cap}")
        return self


class Scoring(_Model):
    half_life_days: float = Field(gt=0)
    max_score: float = Field(default=100, gt=0)
    rules: tuple[ScoringRule, ...] = Field(min_length=1)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: tuple[ScoringRule, ...]) -> tuple[ScoringRule, ...]:
        names = [r.name for r in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate scoring rule names: {', '.join(dupes)}")
        return rules

    @cached_property
    def rules_by_type(self) -> dict[str, tuple[ScoringRule, ...]]:
        index: dict[str, list[ScoringRule]] = {}
        for rule in self.rules:
            index.setdefault(rule.event.type, []).append(rule)
        return {k: tuple(v) for k, v in index.items()}

    def rule_for(self, type_: str, properties: dict[str, Any]) -> ScoringRule | None:
        """The first rule matching the event (put narrow rules before broad ones)."""
        rules = self.rules_by_type.get(type_, ())
        return next((r for r in rules if r.event.matches(type_, properties)), None)


class FitCriterion(_Model):
    name: str = Field(min_length=1)
    trait: str = Field(pattern=r"^(contact|account)\.[A-Za-z0-9_]+$")
    in_: tuple[Scalar, ...] = Field(default=(), alias="in")
    min: float | None = None
    max: float | None = None
    weight: float = Field(gt=0)

    @model_validator(mode="after")
    def _one_test(self) -> FitCriterion:
        ranged = self.min is not None or self.max is not None
        if bool(self.in_) == ranged:
            raise ValueError("give either 'in' (a list of values) or 'min'/'max', not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class Fit(_Model):
    criteria: tuple[FitCriterion, ...] = ()


class AccountRollup(_Model):
    committee_roles: tuple[str, ...] = Field(min_length=1)
    role_trait: str = "role"
    engaged_from: Stage = Stage.ENGAGED
    score: Literal["sum", "max"] = "sum"
    min_roles: dict[Stage, int] = Field(default_factory=dict)
    wanted_roles: dict[Stage, tuple[str, ...]] = Field(default_factory=dict)
    """Per account stage, committee roles of which at least one should be engaged there: an
    account entering the stage without any of them is a gap the owner rep is told about."""

    @model_validator(mode="after")
    def _roles_reachable(self) -> AccountRollup:
        for stage, roles in self.wanted_roles.items():
            if unknown := sorted(set(roles) - set(self.committee_roles)):
                raise ValueError(f"wanted_roles.{stage}: not committee roles: {unknown}")
        for stage, count in self.min_roles.items():
            if not 0 <= count <= len(self.committee_roles):
                raise ValueError(
                    f"min_roles.{stage}: {count} is not between 0 and the "
                    f"{len(self.committee_roles)} committee roles"
                )
        return self


class Playbook(_Model):
    version: str = Field(default="", description="sha256 of the file; set by the loader")
    allowed_lateness_days: float = Field(default=30, gt=0)
    stages: tuple[EntryRule, ...] = Field(min_length=1)
    explicit: tuple[ExplicitRule, ...] = ()
    recycle_after_days: dict[Stage, float] = Field(default_factory=dict)
    scoring: Scoring
    fit: Fit = Fit()
    accounts: AccountRollup

    @model_validator(mode="after")
    def _consistent(self) -> Playbook:
        ranks = [r.stage.rank for r in self.stages]
        if ranks != sorted(set(ranks)):
            raise ValueError("stages: list each funnel stage at most once, in lifecycle order")
        for rule in self.stages:
            past_engaged = rule.stage.rank > Stage.ENGAGED.rank
            if past_engaged and rule.min_engagements < 2 and not rule.any_of:
                raise ValueError(
                    f"stages.{rule.stage}: a single low-intent action could reach it; "
                    "set min_engagements >= 2 or list the required events in any_of"
                )
        for stage in self.recycle_after_days:
            if not stage.parked:
                raise ValueError(f"recycle_after_days.{stage}: only churned/disqualified recycle")
        return self

    @cached_property
    def requirements_by_type(self) -> dict[str, tuple[tuple[str, EventMatch], ...]]:
        """Event type -> ('<stage>:<i>', matcher) of every any_of entry naming that type."""
        index: dict[str, list[tuple[str, EventMatch]]] = {}
        for rule in self.stages:
            for i, match in enumerate(rule.any_of):
                index.setdefault(match.type, []).append((f"{rule.stage}:{i}", match))
        return {k: tuple(v) for k, v in index.items()}

    @property
    def lateness(self) -> timedelta:
        return timedelta(days=self.allowed_lateness_days)

    def high_intent(self) -> tuple[EventMatch, ...]:
        """Events that alone may move a lead past engaged (the any_of of later stages)."""
        return tuple(m for r in self.stages if r.stage.rank > Stage.ENGAGED.rank for m in r.any_of)

    def rule_for(self, stage: Stage) -> EntryRule | None:
        return next((r for r in self.stages if r.stage == stage), None)
