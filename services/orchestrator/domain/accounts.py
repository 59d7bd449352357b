"""Account roll-up: stage and score from stakeholders, gated by buying-committee coverage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
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
    moves: Iterable[Transition] = (),
    last_seen: Mapping[str, datetime] | None = None,
) -> tuple[AccountState, list[Transition]]:
    """Update the account from its changed stakeholders (and those who moved to another account);
    the stage follows the furthest one, held back until enough committee roles are engaged.

    ``moves``: the batch's contact transitions. The account is rolled up after each of them in
    ``occurred_at`` order, so its history has the events' times and ids whatever the batching
    (a batch of 30 back-dated events gives awareness -> engaged -> mql -> sql, not null -> sql).
    A change no contact transition explains (a role that completes the committee) is dated by
    the last event of the batch's stakeholders (``last_seen``), else ``now``."""
    gone = set(leaving)
    members = {k: m for k, m in account.members.items() if k not in gone}
    final: dict[str, Member] = {}
    for c in contacts:
        role = c.current.contact_traits.get(playbook.accounts.role_trait)
        final[c.key] = Member(
            stage=c.stage, score=c.score, role=role.lower() if isinstance(role, str) else None
        )
    transitions: list[Transition] = []
    stage, entered = account.stage, account.stage_entered_at
    mine = sorted(
        (t for t in moves if t.subject_kind == "contact" and t.subject_key in final),
        key=lambda t: (t.occurred_at, t.event_id or ""),
    )
    for t in mine:
        # only the stage matters before ``members.update(final)``: score and role are final's
        members[t.subject_key] = replace(final[t.subject_key], stage=t.to_stage)
        now_stage = _stage(members.values(), len(coverage(members.values(), playbook)), playbook)
        if now_stage is not None and now_stage != stage:
            transitions.append(_moved(account.key, stage, now_stage, t.event_id, t.occurred_at))
            stage, entered = now_stage, t.occurred_at
    members.update(final)
    covered = coverage(members.values(), playbook)
    scores = [m.score for m in members.values()]
    score = sum(scores) if playbook.accounts.score == "sum" else max(scores, default=0.0)
    settled = _stage(members.values(), len(covered), playbook)
    if settled is not None and settled != stage:
        seen = [at for k, at in (last_seen or {}).items() if k in final]
        at = max(seen) if seen else now
        transitions.append(_moved(account.key, stage, settled, None, at))
        stage, entered = settled, at
    return (
        AccountState(
            key=account.key,
            members=members,
            stage=stage,
            stage_entered_at=entered,
            score=round(score, 6),
            coverage=covered,
        ),
        transitions,
    )


def _moved(
    key: str, before: Stage | None, after: Stage, event_id: str | None, at: datetime
) -> Transition:
    return Transition(
        subject_kind="account",
        subject_key=key,
        from_stage=before,
        to_stage=after,
        reason=TransitionReason.EVIDENCE,
        event_id=event_id,
        occurred_at=at,
    )
