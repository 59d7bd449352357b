"""Handoffs between teams through the unit of work (issue 23): the account's owner per team from
CRM events (else the team's least-loaded member), one handoff per account, kind and episode
when an account enters a stage another team receives, its reminder to the new owner (the
committee, the deal, the first steps) and a note to the previous owner, and completion by the
events that count (a meeting booked, a logged call) or by acknowledging the reminder.

Accounts, not contacts, are handed over: owners, deals and the buying committee are the
account's, and one stakeholder's move must not hand the same account over once per colleague.
Nothing happens while the plan has no ``teams:`` (existing plans behave as before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.orchestrator.application import team_owners
from services.orchestrator.application.handoff_done import complete_by_events
from services.orchestrator.application.rep_reminders import Call
from services.orchestrator.application.unit_of_work import NewReminder, NewTouch, UnitOfWork
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.handoff_story import (
    Deal,
    Stakeholder,
    handoff_story,
    taken_over_story,
)
from services.orchestrator.domain.handoffs import (
    RECEIVING_STAGE,
    SALES,
    Handoff,
    HandoffKind,
    deadline,
    handoff_id,
    handoff_kind,
)
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.records import decided as record
from services.orchestrator.domain.reminders import Signal, said
from services.orchestrator.domain.state import ContactState, Decision, Transition
from services.orchestrator.domain.touch_log import TouchDecision, stable_id
from services.orchestrator.domain.views import ContactView
from services.orchestrator.people import Nurture
from trellis.message_templates import contact_label

Log = list[DecisionRecord]
EPISODE = timedelta(days=90)
"""An account handed over again within this long is the same episode (one more stakeholder's
demo request is not a new lead)."""
ORDER = {HandoffKind.MQL_ACCEPT: 0, HandoffKind.SQL_FIRST_CONTACT: 1, HandoffKind.CSM_KICKOFF: 2}
CHANNEL = TouchChannel.REP_CALL_REMINDER
NOTE = TouchChannel.REP_EMAIL_REMINDER
TAKEN_OVER = "handoff_taken_over"


def reason_of(kind: HandoffKind) -> str:
    """The reminder's reason (and template ``reminders/<reason>``) for a handoff of this kind."""
    return f"handoff_{kind.value}"


def zone_of(config: NurtureConfig, person: str | None) -> ZoneInfo:
    return config.rep_zone(person) or ZoneInfo(config.default_timezone)


RIDES_ON_CALL = frozenset({HandoffKind.MQL_ACCEPT, HandoffKind.SQL_FIRST_CONTACT})
"""Kinds whose reminder is the call reminder the same batch made for the same person and owner
(a demo request: the rep hears once, and acknowledging the call takes the lead)."""


@dataclass(frozen=True)
class Planned:
    """The batch's new handoffs, decided (owners chosen) but not yet stored nor announced, and
    the batch's signals (the events that complete handoffs): the call reminders are made
    between ``hand_over`` and ``announce``."""

    made: list[Handoff] = field(default_factory=list)
    signals: Sequence[Signal] = ()


async def hand_over(
    uow: UnitOfWork,
    nurture: Nurture,
    decision: Decision,
    signals: Sequence[Signal],
    now: datetime,
    log: Log,
    defer: bool = False,
) -> Planned:
    """The batch's owner changes per team, its new handoffs and the handoffs its events
    complete; with ``defer``, the handoffs are returned for ``announce`` to store and tell once
    the batch's call reminders are made."""
    if not nurture.config.teams:
        return Planned()
    await team_owners.owner_changes(uow, nurture, signals, now, log)
    planned = await plan_handoffs(uow, nurture.config, decision, signals, now, log,
                                  nurture.rep_pool)  # fmt: skip
    if defer:
        return planned
    await announce(uow, nurture.config, planned, {}, now, log)
    return Planned()


async def create_handoffs(
    uow: UnitOfWork,
    config: NurtureConfig,
    decision: Decision,
    signals: Sequence[Signal],
    now: datetime,
    log: Log,
    pool: Sequence[str] = (),
) -> list[Handoff]:
    """``plan_handoffs`` then ``announce`` them (no call reminder to ride on)."""
    planned = await plan_handoffs(uow, config, decision, signals, now, log, pool)
    return await announce(uow, config, planned, {}, now, log)


async def plan_handoffs(
    uow: UnitOfWork,
    config: NurtureConfig,
    decision: Decision,
    signals: Sequence[Signal],
    now: datetime,
    log: Log,
    pool: Sequence[str] = (),
) -> Planned:
    """One handoff per account and kind when the account, or one of its people, moves into a
    stage another team receives (with its reminders): not again while the account has one of
    this kind or a later one open or made within ``EPISODE``; an open handoff of an earlier
    kind at the account is superseded. A contact without an account hands nothing over."""
    by_event = {s.event_id: s for s in signals}
    moves: dict[tuple[str, HandoffKind], Transition] = {}
    for t in decision.transitions:  # the account's own move, or one of its people's
        s = by_event.get(t.event_id or "")  # a timer's move (a recycle) is nobody's act
        kind = handoff_kind(t.from_stage, t.to_stage, config.stage_teams)
        aid = t.subject_key if t.subject_kind == "account" else (s.account_id if s else None)
        if s is not None and kind is not None and aid is not None:
            moves.setdefault((aid, kind), t)
    if not moves:
        return Planned([], signals)
    aids = {aid for aid, _ in moves}
    owners = await uow.handoffs.owners(aids)
    accs = await uow.accounts.views(aids)
    known = await uow.handoffs.recent(aids, now - EPISODE)
    open_now = {h.id: h for h in known if h.open}
    made: list[Handoff] = []
    for (aid, kind), t in moves.items():
        if any(h.account_id == aid and ORDER[h.kind] >= ORDER[kind] for h in known):
            continue  # handed over already in this episode (or further along)
        s = by_event[t.event_id or ""]
        team = config.stage_teams[RECEIVING_STAGE[kind]]
        owner = await team_owners.owner_for(uow, config, owners, accs, aid, team, now, log, pool)
        left = config.stage_teams.get(t.from_stage) if t.from_stage else None
        # who hands over: the owner in the team of the stage left, else the sales owner
        previous = (
            team_owners.current_owner(owners, accs, aid, left) if left != team else None
        ) or (team_owners.current_owner(owners, accs, aid, SALES) if team != SALES else None)
        window = config.window_for(CHANNEL)
        due, escalate = deadline(now, config.handoffs[kind], window, zone_of(config, owner))
        hid = handoff_id(aid, kind, t.event_id or "")
        rid = stable_id("r_", hid) if owner else None
        made.append(Handoff(hid, aid, s.contact_id, kind, team, owner, previous,
                            t.event_id or "", now, due, escalate, rid))  # fmt: skip
        for o in list(open_now.values()):
            if o.account_id == aid and ORDER[o.kind] < ORDER[kind]:
                del open_now[o.id]
                await uow.handoffs.save([replace(o, completed_at=now)])
                log.append(record(TouchDecision.HANDOFF_COMPLETED, Reason.HANDOFF_SUPERSEDED,
                                  o.contact_id, aid, now, {"handoff": o.id, "kind": o.kind.value,
                                                           "by": kind.value}))  # fmt: skip
    return Planned(made, signals)


async def announce(
    uow: UnitOfWork,
    config: NurtureConfig,
    planned: Planned,
    calls: Mapping[str, Call],
    now: datetime,
    log: Log,
) -> list[Handoff]:
    """Store the planned handoffs, tell their owners, then complete those the batch's events
    complete (a meeting booked in the very batch included). An MQL or SQL handoff whose owner
    is being called about the same person in this batch (``calls``: contact -> the call
    reminder) rides on that call reminder instead of a reminder of its own: acknowledging the
    call takes it, and a breach reminds under it."""
    riding: set[str] = set()
    made = []
    for h in planned.made:
        call = calls.get(h.contact_id)
        if h.kind in RIDES_ON_CALL and call is not None and h.owner == call.rep:
            h = replace(h, reminder_id=call.reminder_id)
            riding.add(h.id)
        made.append(h)
    fresh = await uow.handoffs.add(made)
    by_event = {s.event_id: s for s in planned.signals}
    await _announce(uow, config, fresh, by_event, riding, now, log)
    await complete_by_events(uow, config, planned.signals, now, log)
    return fresh


async def _announce(
    uow: UnitOfWork,
    config: NurtureConfig,
    fresh: Sequence[Handoff],
    by_event: Mapping[str, Signal],
    riding: set[str],
    now: datetime,
    log: Log,
) -> None:
    """The new owner's handoff reminder (unless it rides on a call reminder: ``riding``) and the
    previous owner's note, each with its touch."""
    if not fresh:
        return
    committee = await uow.contacts.of_accounts({h.account_id for h in fresh})
    people = await uow.contacts.views(set(committee) | {h.contact_id for h in fresh})
    window = config.window_for(CHANNEL)
    reminders: list[NewReminder] = []
    touches: list[NewTouch] = []
    for h in fresh:
        stage = (people[h.contact_id].stage if h.contact_id in people else None) or "engaged"
        s = by_event.get(h.episode)
        deal = Deal.of(s.properties) if s and s.type == "deal_closed_won" else None
        members = _committee(committee, people, h.account_id)
        story, points = handoff_story(h.kind, members, deal, h.previous_owner, h.deadline_at, now)
        facts: dict[str, object] = {"handoff": h.id, "kind": h.kind.value, "team": h.team,
                                    "owner": h.owner, "previous_owner": h.previous_owner,
                                    "deadline_at": h.deadline_at.isoformat()}  # fmt: skip
        if h.id in riding:
            facts["on_call_reminder"] = True
        log.append(record(TouchDecision.HANDOFF_CREATED, Reason.HANDOFF, h.contact_id,
                          h.account_id, now, facts, touch_id=h.reminder_id,
                          event_id=h.episode))  # fmt: skip
        if h.owner is None or h.reminder_id is None:
            continue
        if h.id not in riding:
            due = window.next_open(now, zone_of(config, h.owner))
            reason = reason_of(h.kind)
            told = NewReminder(h.reminder_id, h.owner, h.contact_id, h.account_id, reason,
                               story, points, due)  # fmt: skip
            reminders.append(told)
            touches.append(told.touch(CHANNEL, stage))
        if h.previous_owner and h.previous_owner != h.owner:
            nid = stable_id("r_", h.id, "taken_over")
            note, said_points = taken_over_story(h.kind, h.owner, h.team, now)
            when = window.next_open(now, zone_of(config, h.previous_owner))
            noted = NewReminder(nid, h.previous_owner, h.contact_id, h.account_id, TAKEN_OVER,
                                note, said_points, when)  # fmt: skip
            reminders.append(noted)
            touches.append(noted.touch(NOTE, stage))
    await uow.reminders.add(reminders, now)
    await uow.touches.add(touches, now)


def _committee(
    states: Mapping[str, ContactState], people: Mapping[str, ContactView], account_id: str
) -> list[Stakeholder]:
    """The account's people, each with a role and their newest engagements in words."""
    out = []
    for cid in sorted(k for k, st in states.items() if st.account_key == account_id):
        view = people.get(cid)
        pending = sorted(states[cid].pending, key=lambda e: e.occurred_at, reverse=True)
        did: list[str] = []
        for e in pending:
            words = said(Signal(e.event_id, cid, account_id, e.type, e.properties, e.occurred_at))
            if words not in did:
                did.append(words)
        name = view.traits.get("name") if view else None
        out.append(Stakeholder(contact_label(name, view.email if view else None),
                               view.role if view else None, tuple(did)))  # fmt: skip
    return out
