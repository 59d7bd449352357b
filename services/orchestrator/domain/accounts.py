"""Account roll-up: stage and score from stakeholders, gated by buying-committee coverage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.orchestrator.domain.playbook import AccountRollup, Playbook
from services.orchestrator.domain.stages import FUNNEL, Stage, TransitionReason
from services.orchestrator.domain.state import AccountState, ContactState, Member, Transition


def coverage(members: Iterable[Member], playbook: Playbook) -> tuple[str, ...]:
    """Committee roles held by stakeholders at or past ``engaged_from`` (parked ones excluded)."""
    return tuple(sorted(_tally(members, playbook).roles))


_RANKS: dict[Stage, int] = {s: s.rank for s in Stage}


@dataclass(slots=True)
class _Tally:
    """What the roll-up reads of a set of stakeholders: the rank of their furthest funnel stage
    (-1: none), whether any is churned or disqualified, and the committee roles they engage."""

    best: int = -1
    churned: bool = False
    disqualified: bool = False
    roles: set[str] = field(default_factory=set)

    def joined(self, members: Iterable[Member], rules: AccountRollup) -> _Tally:
        """This tally with ``members`` added."""
        best, churned, disqualified = self.best, self.churned, self.disqualified
        roles = set(self.roles)
        engaged_from, committee = _RANKS[rules.engaged_from], rules.committee_roles
        for m in members:
            s = m.stage
            if s is None:
                continue
            rank = _RANKS[s]
            if rank >= engaged_from and m.role is not None and m.role in committee:
                roles.add(m.role)
            if rank > best:  # a funnel stage further on (the parked ones rank -1)
                best = rank
            elif rank < 0:
                if s == Stage.CHURNED:
                    churned = True
                else:
                    disqualified = True
        return _Tally(best, churned, disqualified, roles)

    def stage(self, rules: AccountRollup) -> Stage | None:
        """The furthest stage, stepped back until the committee covers its gate; with no one
        in the funnel, churned if anyone is, else disqualified if anyone is."""
        if self.best < 0:
            if self.churned:
                return Stage.CHURNED
            return Stage.DISQUALIFIED if self.disqualified else None
        best = self.best
        covered, gate = len(self.roles), rules.min_roles
        while covered < gate.get(FUNNEL[best], 0) and best > 0:
            best -= 1
        return FUNNEL[best]


def _tally(members: Iterable[Member], playbook: Playbook) -> _Tally:
    return _Tally().joined(members, playbook.accounts)


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
    the last event of the batch's stakeholders (``last_seen``), else ``now``.

    The stakeholders the batch does not change are tallied once; each move re-tallies only
    the batch's (so an account of thousands costs one pass over them, not one per move)."""
    rules = playbook.accounts
    gone = set(leaving)
    if gone:
        members = {k: m for k, m in account.members.items() if k not in gone}
    else:
        members = account.members.copy()
    final: dict[str, Member] = {}
    for c in contacts:
        role = c.current.contact_traits.get(rules.role_trait)
        final[c.key] = Member(
            stage=c.stage, score=c.score, role=role.lower() if isinstance(role, str) else None
        )
    steady = _tally((m for k, m in members.items() if k not in final), playbook)
    transitions: list[Transition] = []
    stage, entered = account.stage, account.stage_entered_at
    mine = (
        sorted(
            (t for t in moves if t.subject_kind == "contact" and t.subject_key in final),
            key=lambda t: (t.occurred_at, t.event_id or ""),
        )
        if moves
        else ()
    )
    changing = {k: members[k] for k in final if k in members} if mine else {}  # before moves
    for t in mine:
        # only the stage matters before ``members.update(final)``: score and role are final's
        was = final[t.subject_key]
        members[t.subject_key] = changing[t.subject_key] = Member(
            stage=t.to_stage, score=was.score, role=was.role
        )
        now_stage = steady.joined(changing.values(), rules).stage(rules)
        if now_stage is not None and now_stage != stage:
            transitions.append(_moved(account.key, stage, now_stage, t.event_id, t.occurred_at))
            stage, entered = now_stage, t.occurred_at
    members.update(final)
    settled_tally = steady.joined(final.values(), rules)
    scores = [m.score for m in members.values()]
    score = sum(scores) if rules.score == "sum" else max(scores, default=0.0)
    settled = settled_tally.stage(rules)
    if settled is not None and settled != stage:
        seen = [last_seen[k] for k in final if k in last_seen] if last_seen else []
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
            coverage=tuple(sorted(settled_tally.roles)),
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
