"""The contact lifecycle: fold engagements (in occurred_at order) into stage, score and fit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import EntryRule, ExplicitRule, Playbook
from services.orchestrator.domain.scoring import ScoreState, apply_points, fit_score
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import Progress, Transition


def _move(
    p: Progress, key: str, to: Stage, reason: TransitionReason, event_id: str | None, at: datetime
) -> tuple[Progress, Transition]:
    moved = replace(p, stage=to, stage_entered_at=at, parked_at=at if to.parked else None)
    return moved, Transition(
        subject_kind="contact",
        subject_key=key,
        from_stage=p.stage,
        to_stage=to,
        reason=reason,
        event_id=event_id,
        occurred_at=at,
        evidence={
            "score": round(p.score.value, 3),
            "fit": p.fit,
            "engagements": p.engagements,
            "distinct": list(p.distinct),
        },
    )


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
    rule: EntryRule
    from_rank: int | None
    keys: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class _Index:
    """Per playbook: explicit rules by event type, entry rules by descending rank."""

    explicit: dict[str, tuple[ExplicitRule, ...]]
    forward: tuple[_Forward, ...]


_INDEXES: dict[int, tuple[Playbook, _Index]] = {}


def _index(playbook: Playbook) -> _Index:
    """Built once per playbook (keyed by identity, holding it so the id is not reused)."""
    hit = _INDEXES.get(id(playbook))
    if hit is not None and hit[0] is playbook:
        return hit[1]
    explicit: dict[str, list[ExplicitRule]] = {}
    for x in playbook.explicit:
        explicit.setdefault(x.event.type, []).append(x)
    forward = tuple(
        _Forward(
            r.stage.rank,
            r,
            r.from_stage.rank if r.from_stage is not None else None,
            tuple(f"{r.stage}:{i}" for i in range(len(r.any_of))),
        )
        for r in reversed(playbook.stages)
    )
    index = _Index({k: tuple(v) for k, v in explicit.items()}, forward)
    if len(_INDEXES) > 16:
        _INDEXES.clear()
    _INDEXES[id(playbook)] = (playbook, index)
    return index


def _qualifies(f: _Forward, p: Progress, current: int) -> bool:
    rule = f.rule
    if f.from_rank is not None and current < f.from_rank:
        return False
    if rule.min_score is not None and p.score.value < rule.min_score:
        return False
    if p.engagements < rule.min_engagements or len(p.distinct) < rule.min_distinct:
        return False
    if rule.min_fit is not None and p.fit < rule.min_fit:
        return False
    return not f.keys or any(k in p.met for k in f.keys)


def _changes(known: dict[str, object], update: dict[str, object]) -> bool:
    return any(k not in known or known[k] != v for k, v in update.items())


def _said_traits(e: Engagement) -> dict[str, object]:
    """The contact's traits as this event tells them: an NPS answer is the contact's latest
    ``nps`` (sequence conditions such as ``min_nps`` read it when planning)."""
    score = e.properties.get("score") if e.type == "nps_submitted" else None
    if isinstance(score, int) and not isinstance(score, bool):
        return {**e.contact_traits, "nps": score}
    return e.contact_traits


def _absorb(p: Progress, e: Engagement, playbook: Playbook) -> Progress:
    """Traits, fit, score and evidence from one event; no stage change."""
    contact_traits, account_traits, fit = p.contact_traits, p.account_traits, p.fit
    said = _said_traits(e)
    if (
        p.as_of is None
        or _changes(contact_traits, said)
        or _changes(account_traits, e.account_traits)
    ):
        contact_traits = {**contact_traits, **said}
        account_traits = {**account_traits, **e.account_traits}
        fit = fit_score(playbook.fit, contact_traits, account_traits)
    score, engagements, distinct = p.score, p.engagements, p.distinct
    rule = next(
        (
            r
            for r in playbook.scoring.rules_by_type.get(e.type, ())
            if r.event.matches(e.type, e.properties)
        ),
        None,
    )
    if rule is not None:
        score, _ = apply_points(p.score, rule, e.occurred_at, playbook.scoring)
        if rule.points > 0:
            engagements += 1
            if rule.name not in distinct:
                distinct = tuple(sorted((*distinct, rule.name)))
    met = p.met
    for requirement, match in playbook.requirements_by_type.get(e.type, ()):
        if requirement not in met and match.matches(e.type, e.properties):
            met = tuple(sorted((*met, requirement)))
    return Progress(
        stage=p.stage,
        stage_entered_at=p.stage_entered_at,
        score=score,
        engagements=engagements,
        distinct=distinct,
        met=met,
        contact_traits=contact_traits,
        account_traits=account_traits,
        fit=fit,
        parked_at=p.parked_at,
        as_of=e.occurred_at,
    )


def apply_event(
    p: Progress, e: Engagement, playbook: Playbook, key: str
) -> tuple[Progress, list[Transition]]:
    """One event at its occurred_at: recycle timer, evidence, explicit CRM rule, forward rules."""
    p, out = _recycle_due(p, playbook, key, e.occurred_at)
    p = _absorb(p, e, playbook)
    index = _index(playbook)
    explicit = next(
        (r for r in index.explicit.get(e.type, ()) if r.event.matches(e.type, e.properties)), None
    )
    if explicit is not None:
        if explicit.stage != p.stage:
            p, t = _move(
                p, key, explicit.stage, TransitionReason.CRM_EVENT, e.event_id, e.occurred_at
            )
            out.append(t)
        return p, out
    if p.stage is None:
        p, t = _move(
            p, key, Stage.AWARENESS, TransitionReason.FIRST_ENGAGEMENT, e.event_id, e.occurred_at
        )
        out.append(t)
    if p.stage is not None and p.stage.parked:
        return p, out
    current = p.stage.rank if p.stage is not None else -1
    target = None
    for f in index.forward:  # descending rank: the furthest stage that qualifies
        if f.rank <= current:
            break
        if _qualifies(f, p, current):
            target = f.rule.stage
            break
    if target is not None:
        p, t = _move(p, key, target, TransitionReason.EVIDENCE, e.event_id, e.occurred_at)
        out.append(t)
    return p, out


def replay(
    p: Progress, events: Iterable[Engagement], playbook: Playbook, key: str, until: datetime | None
) -> tuple[Progress, list[Transition]]:
    """Fold events (already sorted by occurred_at, event id), then fire timers due by ``until``."""
    out: list[Transition] = []
    for e in events:
        p, ts = apply_event(p, e, playbook, key)
        out.extend(ts)
    if until is not None:
        p, ts = _recycle_due(p, playbook, key, until)
        out.extend(ts)
    return p, out
