"""Behaviour score (points, per-rule caps per rolling window, decay, negatives) and fit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.orchestrator.domain.playbook import Fit, FitCriterion, Scoring, ScoringRule


@dataclass(slots=True, frozen=True)
class Award:
    at: datetime
    points: float


@dataclass(slots=True, frozen=True)
class ScoreState:
    """Score as of ``as_of`` (decays from there) plus the awards still inside each rule's window."""

    value: float = 0.0
    as_of: datetime | None = None
    awards: dict[str, tuple[Award, ...]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoreState:
        as_of, parse = d.get("as_of"), datetime.fromisoformat
        return cls(
            float(d.get("value", 0.0)),
            datetime.fromisoformat(as_of) if as_of else None,
            {
                name: tuple([Award(parse(a["at"]), float(a["points"])) for a in aw])
                for name, aw in (d.get("awards") or {}).items()
            },
        )

    def at(self, when: datetime, half_life_days: float) -> float:
        if self.as_of is None or when <= self.as_of:
            return self.value
        days = (when - self.as_of) / timedelta(days=1)
        return self.value * math.pow(0.5, days / half_life_days)


def _capped(
    rule: ScoringRule, previous: tuple[Award, ...], at: datetime
) -> tuple[float, tuple[Award, ...]]:
    window_start = at - timedelta(days=rule.window_days)
    recent = tuple(a for a in previous if a.at > window_start)
    if rule.cap is None or rule.points < 0:
        return rule.points, recent
    used = sum(a.points for a in recent)
    return max(0.0, min(rule.points, rule.cap - used)), recent


def apply_points(
    state: ScoreState, rule: ScoringRule, at: datetime, scoring: Scoring
) -> tuple[ScoreState, float]:
    """Add one event's points at ``at`` (events are applied in occurred_at order)."""
    points, recent = _capped(rule, state.awards.get(rule.name, ()), at)
    value = min(scoring.max_score, max(0.0, state.at(at, scoring.half_life_days) + points))
    awards = dict(state.awards)
    awards[rule.name] = (*recent, Award(at, points)) if points > 0 else recent
    as_of = max(at, state.as_of) if state.as_of else at
    return ScoreState(value, as_of, awards), points


def _trait(criterion: FitCriterion, contact: dict[str, Any], account: dict[str, Any]) -> Any:
    scope, name = criterion.trait.split(".", 1)
    value = (contact if scope == "contact" else account).get(name)
    return value.lower() if isinstance(value, str) else value


def _met(criterion: FitCriterion, value: Any) -> bool:
    if value is None:
        return False
    if criterion.in_:
        wanted = {v.lower() if isinstance(v, str) else v for v in criterion.in_}
        return value in wanted
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    low = criterion.min if criterion.min is not None else -math.inf
    high = criterion.max if criterion.max is not None else math.inf
    return low <= value <= high


def fit_score(fit: Fit, contact: dict[str, Any], account: dict[str, Any]) -> float:
    """Share of ICP weight met, 0..1 (an empty ICP fits everyone)."""
    total = sum(c.weight for c in fit.criteria)
    if total == 0:
        return 1.0
    met = sum(c.weight for c in fit.criteria if _met(c, _trait(c, contact, account)))
    return round(met / total, 6)
