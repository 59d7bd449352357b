"""The contact lifecycle: fold engagements (in occurred_at order) into stage, score and fit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.playbook import EntryRule, Playbook
from services.orchestrator.domain.scoring import ScoreState, apply_points, fit_score
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import Progress, Transition


def _move(
    p: Progress, key: str, to: Stage, reason: TransitionReason, event_id: str | None, at: datetime
) -> tuple[Progress, Transition]:
    moved = p.model_copy(
        update={
            "stage": to,
            "stage_entered_at": at,
            "parked_at": at if to.parked else None,
        }
    )
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
    fresh = p.model_copy(
        update={"score": ScoreState(), "engagements": 0, "distinct": (), "met": ()}
    )
    moved, t = _move(fresh, key, Stage.AWARENESS, TransitionReason.RECYCLED, None, due)
    return moved, [t]


def _qualifies(rule: EntryRule, p: Progress, playbook: Playbook) -> bool:
    current = p.stage.rank if p.stage is not None else -1
    if rule.from_stage is not None and current < rule.from_stage.rank:
        return False
    if rule.min_score is not None and p.score.value < rule.min_score:
        return False
    if p.engagements < rule.min_engagements or len(p.distinct) < rule.min_distinct:
        return False
    if rule.min_fit is not None and p.fit < rule.min_fit:
        return False
    return not rule.any_of or any(f"{rule.stage}:{i}" in p.met for i in range(len(rule.any_of)))


def _changes(known: dict[str, object], update: dict[str, object]) -> bool:
    return any(k not in known or known[k] != v for k, v in update.items())


def _absorb(p: Progress, e: Engagement, playbook: Playbook) -> Progress:
    """Traits, fit, score and evidence from one event; no stage change."""
    contact_traits, account_traits, fit = p.contact_traits, p.account_traits, p.fit
    if (
        p.as_of is None
        or _changes(contact_traits, e.contact_traits)
        or _changes(account_traits, e.account_traits)
    ):
        contact_traits = {**contact_traits, **e.contact_traits}
        account_traits = {**account_traits, **e.account_traits}
        fit = fit_score(playbook.fit, contact_traits, account_traits)
    score, engagements, distinct = p.score, p.engagements, set(p.distinct)
    rule = playbook.scoring.rule_for(e.type, e.properties)
    if rule is not None:
        score, _ = apply_points(p.score, rule, e.occurred_at, playbook.scoring)
        if rule.points > 0:
            engagements += 1
            distinct.add(rule.name)
    met = set(p.met)
    for requirement, match in playbook.requirements_by_type.get(e.type, ()):
        if match.matches(e.type, e.properties):
            met.add(requirement)
    return p.model_copy(
        update={
            "contact_traits": contact_traits,
            "account_traits": account_traits,
            "fit": fit,
            "score": score,
            "engagements": engagements,
            "distinct": tuple(sorted(distinct)),
            "met": tuple(sorted(met)),
            "as_of": e.occurred_at,
        }
    )


def apply_event(
    p: Progress, e: Engagement, playbook: Playbook, key: str
) -> tuple[Progress, list[Transition]]:
    """One event at its occurred_at: recycle timer, evidence, explicit CRM rule, forward rules."""
    p, out = _recycle_due(p, playbook, key, e.occurred_at)
    p = _absorb(p, e, playbook)
    explicit = next((r for r in playbook.explicit if r.event.matches(e.type, e.properties)), None)
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
    target = next(
        (
            r.stage
            for r in reversed(playbook.stages)
            if r.stage.rank > current and _qualifies(r, p, playbook)
        ),
        None,
    )
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
