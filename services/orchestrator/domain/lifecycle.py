"""The contact lifecycle: fold engagements (in occurred_at order) into stage, score and fit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import EntryRule, EventMatch, Playbook, ScoringRule
from services.orchestrator.domain.scoring import FitScore, ScoreState, apply_points
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import Progress, Transition


def _transition(
    key: str, before: Stage | None, to: Stage, reason: TransitionReason, event_id: str | None,
    at: datetime, score: float, fit: float, engagements: int, distinct: tuple[str, ...],
) -> Transition:  # fmt: skip
    """A contact's move, with the evidence it had then."""
    return Transition(
        subject_kind="contact",
        subject_key=key,
        from_stage=before,
        to_stage=to,
        reason=reason,
        event_id=event_id,
        occurred_at=at,
        evidence={
            "score": round(score, 3),
            "fit": fit,
            "engagements": engagements,
            "distinct": list(distinct),
        },
    )


def _move(
    p: Progress, key: str, to: Stage, reason: TransitionReason, event_id: str | None, at: datetime
) -> tuple[Progress, Transition]:
    moved = replace(p, stage=to, stage_entered_at=at, parked_at=at if to.parked else None)
    t = _transition(key, p.stage, to, reason, event_id, at, p.score.value, p.fit, p.engagements,
                    p.distinct)  # fmt: skip
    return moved, t


def _recycle_due(
    p: Progress, playbook: Playbook, key: str, until: datetime
) -> tuple[Progress, list[Transition]]:
    if p.stage is None or not p.stage.parked or p.parked_at is None:
        return p, []
    days = playbook.recycle_after_days.get(p.stage)
    if days is None:
        return p, []
    due = p.parked_at + timedelta(days=days)
    if until < due:
        return p, []
    fresh = replace(p, score=ScoreState(), engagements=0, distinct=(), met=())
    moved, t = _move(fresh, key, Stage.AWARENESS, TransitionReason.RECYCLED, None, due)
    return moved, [t]


@dataclass(slots=True, frozen=True)
class _Forward:
    """An entry rule with what checking it needs precomputed (ranks, any_of keys)."""

    rank: int
    stage: Stage
    from_rank: int | None
    min_score: float | None
    min_engagements: int
    min_distinct: int
    min_fit: float | None
    keys: frozenset[str]

    @classmethod
    def of(cls, r: EntryRule) -> _Forward:
        return cls(
            r.stage.rank,
            r.stage,
            r.from_stage.rank if r.from_stage is not None else None,
            r.min_score,
            r.min_engagements,
            r.min_distinct,
            r.min_fit,
            frozenset(f"{r.stage}:{i}" for i in range(len(r.any_of))),
        )


Narrow = EventMatch | None
"""An event match to check, or None when its event type (the index's key) is all it asks."""


def _narrow(match: EventMatch) -> Narrow:
    return match if match.where or match.at_least else None


@dataclass(slots=True, frozen=True)
class _Index:
    """Per playbook, by event type: explicit rules, scoring rules, any_of requirements; entry
    rules by descending rank; the ICP compiled."""

    explicit: dict[str, tuple[tuple[Narrow, Stage], ...]]
    scoring: dict[str, tuple[tuple[Narrow, ScoringRule], ...]]
    requirements: dict[str, tuple[tuple[Narrow, str], ...]]
    forward: tuple[_Forward, ...]
    fit: FitScore


_INDEXES: dict[int, tuple[Playbook, _Index]] = {}


def _index(playbook: Playbook) -> _Index:
    """Built once per playbook (keyed by identity, holding it so the id is not reused)."""
    hit = _INDEXES.get(id(playbook))
    if hit is not None and hit[0] is playbook:
        return hit[1]
    explicit: dict[str, list[tuple[Narrow, Stage]]] = {}
    for x in playbook.explicit:
        explicit.setdefault(x.event.type, []).append((_narrow(x.event), x.stage))
    index = _Index(
        explicit={k: tuple(v) for k, v in explicit.items()},
        scoring={
            k: tuple((_narrow(r.event), r) for r in rules)
            for k, rules in playbook.scoring.rules_by_type.items()
        },
        requirements={
            k: tuple((_narrow(m), requirement) for requirement, m in pairs)
            for k, pairs in playbook.requirements_by_type.items()
        },
        forward=tuple(_Forward.of(r) for r in reversed(playbook.stages)),
        fit=FitScore(playbook.fit),
    )
    if len(_INDEXES) > 16:
        _INDEXES.clear()
    _INDEXES[id(playbook)] = (playbook, index)
    return index


def _furthest(
    index: _Index, current: int, score: float, engagements: int, distinct: int, fit: float,
    met: tuple[str, ...],
) -> Stage | None:  # fmt: skip
    """The furthest stage past ``current`` whose entry rule the evidence meets."""
    for f in index.forward:  # descending rank
        if f.rank <= current:
            return None
        if f.from_rank is not None and current < f.from_rank:
            continue
        if f.min_score is not None and score < f.min_score:
            continue
        if engagements < f.min_engagements or distinct < f.min_distinct:
            continue
        if f.min_fit is not None and fit < f.min_fit:
            continue
        if not f.keys or not f.keys.isdisjoint(met):
            return f.stage
    return None


def _explicit(index: _Index, type_: str, properties: dict[str, object]) -> Stage | None:
    """The stage the first explicit rule matching the event sets, if one does."""
    for match, stage in index.explicit.get(type_, ()):
        if match is None or match.matches(type_, properties):
            return stage
    return None


def _said_traits(e: Engagement) -> dict[str, object]:
    """The contact's traits as this event tells them: an NPS answer is the contact's latest
    ``nps`` (sequence conditions such as ``min_nps`` read it when planning)."""
    score = e.properties.get("score") if e.type == "nps_submitted" else None
    if isinstance(score, int) and not isinstance(score, bool):
        return {**e.contact_traits, "nps": score}
    return e.contact_traits


def apply_event(
    p: Progress, e: Engagement, playbook: Playbook, key: str
) -> tuple[Progress, list[Transition]]:
    """One event at its occurred_at: recycle timer, evidence (traits, fit, score, any_of
    requirements), then the explicit CRM rule or the forward rules; one new ``Progress``."""
    out: list[Transition] = []
    if p.parked_at is not None:  # only a parked contact has a recycle timer
        p, out = _recycle_due(p, playbook, key, e.occurred_at)
    index = _index(playbook)
    type_, properties, at = e.type, e.properties, e.occurred_at
    contact_traits, account_traits, fit = p.contact_traits, p.account_traits, p.fit
    said = _said_traits(e)
    if (
        p.as_of is None
        or not said.items() <= contact_traits.items()  # a trait new or changed
        or not e.account_traits.items() <= account_traits.items()
    ):
        contact_traits = {**contact_traits, **said}
        account_traits = {**account_traits, **e.account_traits}
        fit = index.fit(contact_traits, account_traits)
    score, engagements, distinct = p.score, p.engagements, p.distinct
    for match, rule in index.scoring.get(type_, ()):  # the first rule matching
        if match is None or match.matches(type_, properties):
            score, _ = apply_points(score, rule, at, playbook.scoring)
            if rule.points > 0:
                engagements += 1
                if rule.name not in distinct:
                    distinct = tuple(sorted((*distinct, rule.name)))
            break
    met = p.met
    for match, requirement in index.requirements.get(type_, ()):
        if requirement not in met and (match is None or match.matches(type_, properties)):
            met = tuple(sorted((*met, requirement)))
    stage, entered, parked_at = p.stage, p.stage_entered_at, p.parked_at
    explicit = _explicit(index, type_, properties)
    if explicit is not None:
        if explicit != stage:
            t = _transition(key, stage, explicit, TransitionReason.CRM_EVENT, e.event_id, at,
                            score.value, fit, engagements, distinct)  # fmt: skip
            out.append(t)
            stage, entered, parked_at = explicit, at, at if explicit.parked else None
    else:
        if stage is None:
            t = _transition(key, None, Stage.AWARENESS, TransitionReason.FIRST_ENGAGEMENT,
                            e.event_id, at, score.value, fit, engagements, distinct)  # fmt: skip
            out.append(t)
            stage, entered, parked_at = Stage.AWARENESS, at, None
        if not stage.parked:
            target = _furthest(index, stage.rank, score.value, engagements, len(distinct), fit, met)
            if target is not None:
                t = _transition(key, stage, target, TransitionReason.EVIDENCE, e.event_id, at,
                                score.value, fit, engagements, distinct)  # fmt: skip
                out.append(t)
                stage, entered, parked_at = target, at, at if target.parked else None
    return Progress(
        stage=stage,
        stage_entered_at=entered,
        score=score,
        engagements=engagements,
        distinct=distinct,
        met=met,
        contact_traits=contact_traits,
        account_traits=account_traits,
        fit=fit,
        parked_at=parked_at,
        as_of=at,
    ), out


def replay(
    p: Progress, events: Iterable[Engagement], playbook: Playbook, key: str, until: datetime | None
) -> tuple[Progress, list[Transition]]:
    """Fold events (already sorted by occurred_at, event id), then fire timers due by ``until``."""
    out: list[Transition] = []
    for e in events:
        p, ts = apply_event(p, e, playbook, key)
        if ts:
            out.extend(ts)
    if until is not None:
        p, ts = _recycle_due(p, playbook, key, until)
        out.extend(ts)
    return p, out
