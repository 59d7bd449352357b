"""Account plays (pure): one stakeholder's hand-raise pauses the account's marketing to the
others, and a buying committee missing the roles its stage wants becomes a task for the rep.

**The pause defers, it does not skip.** A paused touch stays ``planned`` with its ``due_at``
moved past the pause's end (a contact's touches move together, so the first lands at the end
and the sequence keeps its spacing), logged per touch as ``ACCOUNT_PAUSED`` with the event
that paused the account. So the plan keeps telling the truth during the pause: the ops API, the
dashboard and "why" show the touch and the time it will go, and nothing has to remember to
bring it back (a skipped touch would return only if a later change happened to replan its
contact). Touches planned while the account is paused wait the same way. When the rep
acknowledges a reminder at the account the pause ends early: each contact's paused touches
move back together, the first due at once (the scheduler still applies windows and caps).

What pauses is the plan's ``account_pause.events``: per account stage, the event types from one
stakeholder that pause the *others* (the one who raised a hand has their own exits and stage).
Rep reminders are never paused: they go to the rep, and they are how the account is worked.

A pause is remembered as a decision record (``account_paused``, the end in its facts) and
lifted by another (``account_resumed``); ``active_pauses`` reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.orchestrator.domain.eligibility import PlannedTouch
from services.orchestrator.domain.nurture_config import AccountPause, NurtureConfig
from services.orchestrator.domain.reminders import Signal
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import AccountState

PAUSED, RESUMED = "account_paused", "account_resumed"


@dataclass(frozen=True, slots=True)
class Pause:
    """The account's marketing to everyone but ``contact_id`` waits until ``until``."""

    account_id: str
    contact_id: str
    event_id: str
    event_type: str
    until: datetime


@dataclass(frozen=True, slots=True)
class PauseMark:
    """A stored ``account_paused`` (with its pause) or ``account_resumed`` decision."""

    account_id: str
    kind: str
    decided_at: datetime
    pause: Pause | None = None


def pause_facts(p: Pause) -> dict[str, str]:
    """What an ``account_paused`` record keeps besides its account, contact and event."""
    return {"until": p.until.isoformat(), "event_type": p.event_type}


def pause_mark(
    account_id: str | None, contact_id: str | None, event_id: str | None, kind: str,
    facts: Mapping[str, object], decided_at: datetime,
) -> PauseMark:  # fmt: skip
    """A stored record read back (``pause_facts`` is what it wrote)."""
    until = facts.get("until")
    pause = None
    if kind == PAUSED and isinstance(until, str) and account_id and contact_id:
        kind_of = str(facts.get("event_type") or "")
        pause = Pause(
            account_id, contact_id, event_id or "", kind_of, datetime.fromisoformat(until)
        )
    return PauseMark(account_id or "", kind, decided_at, pause)


def pauses_from(
    signals: Iterable[Signal], account_stage: Mapping[str, Stage | None], rule: AccountPause,
    now: datetime,
) -> list[Pause]:  # fmt: skip
    """The batch's pausing events (per the account's stage), each pausing until its time plus
    the plan's length; one already over (a late event) pauses nothing."""
    out = []
    for s in signals:
        stage = account_stage.get(s.account_id or "")
        if s.account_id is None or stage is None or s.type not in rule.events.get(stage, ()):
            continue
        until = s.occurred_at + rule.length
        if until > now:
            out.append(Pause(s.account_id, s.contact_id, s.event_id, s.type, until))
    return out


def active_pauses(marks: Iterable[PauseMark], now: datetime) -> dict[str, list[Pause]]:
    """account -> its pauses still running at ``now``: not over, not lifted by a later resume."""
    resumed: dict[str, datetime] = {}
    ordered = sorted(marks, key=lambda m: m.decided_at)
    for m in ordered:
        if m.kind == RESUMED:
            resumed[m.account_id] = max(m.decided_at, resumed.get(m.account_id, m.decided_at))
    out: dict[str, list[Pause]] = {}
    for m in ordered:
        p = m.pause
        lifted = resumed.get(m.account_id)
        if m.kind == PAUSED and p and p.until > now and (lifted is None or lifted < m.decided_at):
            out.setdefault(m.account_id, []).append(p)
    return out


def held_back(
    touches: Sequence[PlannedTouch], pauses: Sequence[Pause], config: NurtureConfig,
    zone: ZoneInfo,
) -> list[tuple[PlannedTouch, datetime, Pause]]:  # fmt: skip
    """One contact's planned touches held by the account's pauses: (touch, new due, the pause
    holding it). The marketing ones move together, by the time that puts the first one at the
    pause's end, so the sequence keeps its spacing; each lands in its channel's next window.
    Nothing moves for a rep reminder, the hand-raiser's own, or when all are due after the end."""
    marketing = [t for t in touches if not t.channel.is_reminder]
    raised = {p.contact_id for p in pauses}
    if not marketing or not pauses or marketing[0].contact_id in raised:
        return []
    last = max(pauses, key=lambda p: (p.until, p.event_id))
    first = min(t.due_at for t in marketing)
    if first >= last.until:
        return []
    shift = last.until - first
    return [
        (t, config.window_for(t.channel, t.window).next_open(t.due_at + shift, zone), last)
        for t in sorted(marketing, key=lambda t: (t.due_at, t.touch_id))
    ]


@dataclass(frozen=True, slots=True)
class CommitteeGap:
    """The account is at ``stage`` without any of the ``missing`` roles engaged. ``closest``:
    stakeholders known with one of them but not engaged, nearest first; ``champion``: the one
    furthest along (who can introduce them)."""

    account_id: str
    stage: Stage
    missing: tuple[str, ...]
    closest: tuple[str, ...]
    champion: str | None

    @property
    def dedup_key(self) -> str:
        """One reminder per account and stage, for ever."""
        return f"{self.account_id}/committee_gap/{self.stage.value}"


def committee_gap(
    account: AccountState, wanted_roles: Mapping[Stage, tuple[str, ...]]
) -> CommitteeGap | None:
    """The playbook's ``accounts.wanted_roles`` for the account's stage, if none is engaged."""
    stage = account.stage
    wanted = wanted_roles.get(stage) if stage is not None else None
    if stage is None or not wanted or set(wanted) & set(account.coverage):
        return None

    def nearest(key: str) -> tuple[int, float, str]:
        m = account.members[key]
        return (-(m.stage.rank if m.stage is not None else -1), -m.score, key)

    closest = sorted((k for k, m in account.members.items() if m.role in wanted), key=nearest)
    others = sorted((k for k in account.members if k not in closest), key=nearest)
    champion = others[0] if others else None
    return CommitteeGap(account.key, stage, tuple(wanted), tuple(closest), champion)
