"""Account roll-up: stage and score from stakeholders, gated by buying-committee coverage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import FUNNEL, Stage, TransitionReason
from services.orchestrator.domain.state import AccountState, ContactState, Member, Transition


def coverage(members: Iterable[Member], playbook: Playbook) -> tuple[str, ...]:
    """Committee roles held by stakeholders at or past ``engaged_from`` (parked ones excluded)."""
    rules = playbook.accounts
    roles = {
        m.role
        for m in members
        if m.role in rules.committee_roles
        and m.stage is not None
        and m.stage.rank >= rules.engaged_from.rank
    }
    return tuple(sorted(r for r in roles if r is not None))


def _stage(members: Iterable[Member], covered: int, playbook: Playbook) -> Stage | None:
    ranked = [m.stage for m in members if m.stage is not None and not m.stage.parked]
    if not ranked:
        parked = [m.stage for m in members if m.stage is not None]
        return Stage.CHURNED if Stage.CHURNED in parked else (parked[0] if parked else None)
    best = max(ranked, key=lambda s: s.rank)
    gate = playbook.accounts.min_roles
    while covered < gate.get(best, 0) and best.rank > 0:
        best = FUNNEL[best.rank - 1]
    return best


def roll_up(
    account: AccountState,
    contacts: Iterable[ContactState],
    playbook: Playbook,
    now: datetime,
    leaving: Iterable[str] = (),
) -> tuple[AccountState, list[Transition]]:
    """Update the account from its changed stakeholders (and those who moved to another account);
    the stage follows the furthest one, held back until enough committee roles are engaged."""
    gone = set(leaving)
    members = {k: m for k, m in account.members.items() if k not in gone}
    for c in contacts:
        role = c.current.contact_traits.get(playbook.accounts.role_trait)
        members[c.key] = Member(
            stage=c.stage, score=c.score, role=role.lower() if isinstance(role, str) else None
        )
    covered = coverage(members.values(), playbook)
    scores = [m.score for m in members.values()]
    score = sum(scores) if playbook.accounts.score == "sum" else max(scores, default=0.0)
    stage = _stage(members.values(), len(covered), playbook)
    moves: list[Transition] = []
    entered = account.stage_entered_at
    if stage is not None and stage != account.stage:
        entered = now
        moves.append(
            Transition(
                subject_kind="account",
                subject_key=account.key,
                from_stage=account.stage,
                to_stage=stage,
                reason=TransitionReason.EVIDENCE,
                event_id=None,
                occurred_at=now,
            )
        )
    return (
        AccountState(
            key=account.key,
            members=members,
            stage=stage,
            stage_entered_at=entered,
            score=round(score, 6),
            coverage=covered,
        ),
        moves,
    )
