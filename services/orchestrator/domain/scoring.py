"""Behaviour score (points, per-rule caps per rolling window, decay, negatives) and fit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.orchestrator.domain.playbook import Fit, FitCriterion, Scoring, ScoringRule

_DAY = timedelta(days=1)
_WINDOWS: dict[float, timedelta] = {}  # a rule's window_days -> its window


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
        days = (when - self.as_of) / _DAY
        return self.value * math.pow(0.5, days / half_life_days)


def _window(days: float) -> timedelta:
    window = _WINDOWS.get(days)
    if window is None:
        window = _WINDOWS.setdefault(days, timedelta(days=days))
    return window


def _capped(
    rule: ScoringRule, previous: tuple[Award, ...], at: datetime
) -> tuple[float, tuple[Award, ...]]:
    window_start = at - _window(rule.window_days)
    recent = previous
    for a in previous:  # the common case: every award still inside the window, kept as it is
        if a.at <= window_start:
            recent = tuple([a for a in previous if a.at > window_start])
            break
    if rule.cap is None or rule.points < 0:
        return rule.points, recent
    used = sum([a.points for a in recent])
    return max(0.0, min(rule.points, rule.cap - used)), recent


def apply_points(
    state: ScoreState, rule: ScoringRule, at: datetime, scoring: Scoring
) -> tuple[ScoreState, float]:
    """Add one event's points at ``at`` (events are applied in occurred_at order)."""
    name = rule.name
    points, recent = _capped(rule, state.awards.get(name, ()), at)
    value = min(scoring.max_score, max(0.0, state.at(at, scoring.half_life_days) + points))
    awards = state.awards.copy()
    awards[name] = (*recent, Award(at, points)) if points > 0 else recent
    as_of = max(at, state.as_of) if state.as_of else at
    return ScoreState(value, as_of, awards), points


@dataclass(slots=True, frozen=True)
class _Criterion:
    """A fit criterion as checking it needs it: the trait split, the wanted values lowered."""

    of_contact: bool
    name: str
    wanted: frozenset[Any] | None  # None: a min/max range
    low: float
    high: float
    weight: float

    @classmethod
    def of(cls, criterion: FitCriterion) -> _Criterion:
        scope, name = criterion.trait.split(".", 1)
        wanted = None
        if criterion.in_:
            wanted = frozenset(v.lower() if isinstance(v, str) else v for v in criterion.in_)
        low = criterion.min if criterion.min is not None else -math.inf
        high = criterion.max if criterion.max is not None else math.inf
        return cls(scope == "contact", name, wanted, low, high, criterion.weight)

    def met(self, contact: dict[str, Any], account: dict[str, Any]) -> bool:
        value = (contact if self.of_contact else account).get(self.name)
        if isinstance(value, str):
            value = value.lower()
        elif value is None:
            return False
        if self.wanted is not None:
            return value in self.wanted
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.low <= value <= self.high


class FitScore:
    """A playbook's ICP compiled once: ``fit(contact_traits, account_traits)`` is the share of
    ICP weight met, 0..1 (an empty ICP fits everyone)."""

    __slots__ = ("_criteria", "_total")

    def __init__(self, fit: Fit) -> None:
        self._total = sum(c.weight for c in fit.criteria)
        self._criteria = tuple(_Criterion.of(c) for c in fit.criteria)

    def __call__(self, contact: dict[str, Any], account: dict[str, Any]) -> float:
        if self._total == 0:
            return 1.0
        met = sum([c.weight for c in self._criteria if c.met(contact, account)])
        return round(met / self._total, 6)


def fit_score(fit: Fit, contact: dict[str, Any], account: dict[str, Any]) -> float:
    """Share of ICP weight met, 0..1 (an empty ICP fits everyone)."""
    return FitScore(fit)(contact, account)
