"""Account plays through the unit of work (the rules are ``domain.account_plays``).

``hold_paused``: after a batch is planned, its pausing events are recorded and every planned
marketing touch at a paused account (planned just now or before) is moved to the pause's end,
each logged with the event that paused it. ``resume_account``: the rep acknowledged a reminder
at the account, so its paused touches are due again. ``committee_gap_needs``: the accounts the
batch moved into a stage without the roles the playbook wants there, as reminder needs for the
owner rep, each once per account and stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.orchestrator.application.planning import Context, Log
from services.orchestrator.application.unit_of_work import Moved, UnitOfWork
from services.orchestrator.domain.account_plays import (
    PAUSED,
    CommitteeGap,
    PauseMark,
    active_pauses,
    committee_gap,
    held_back,
    pause_facts,
    pauses_from,
)
from services.orchestrator.domain.eligibility import PlannedTouch
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import ReminderNeed, ReminderReason, Signal
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import Decision
from services.orchestrator.domain.touch_log import TouchDecision, stable_id
from services.orchestrator.domain.views import ContactView
from services.orchestrator.people import recipient_of
from services.orchestrator.touch_commands import planned_touch
from trellis.message_templates import contact_label

LONGEST_PAUSE = timedelta(days=91)
"""Older pause records cannot be running (``account_pause.days`` is at most 90)."""


async def hold_paused(
    uow: UnitOfWork,
    ctx: Context,
    signals: Sequence[Signal],
    account_stage: Mapping[str, Stage | None],
    accounts: Iterable[str],
    log: Log,
) -> None:
    """Record the batch's pauses, then defer the planned marketing touches of the paused ones
    among ``accounts`` (those whose contacts were just planned) and the newly paused."""
    rule = ctx.config.account_pause
    if not rule.events:
        return
    new = pauses_from(signals, account_stage, rule, ctx.now)
    for p in new:
        log.append(ctx.row(TouchDecision.ACCOUNT_PAUSED, Reason.ACCOUNT_PAUSED, p.contact_id,
                           p.account_id, None, pause_facts(p), p.event_id))  # fmt: skip
    wanted = {a for a in accounts if a} | {p.account_id for p in new}
    if not wanted:
        return
    marks = await uow.decisions.account_pauses(wanted, ctx.now - LONGEST_PAUSE)
    marks += [PauseMark(p.account_id, PAUSED, ctx.now, p) for p in new]
    running = active_pauses(marks, ctx.now)
    if not running:
        return
    rows = await uow.touches.planned_at(running)
    people = await uow.contacts.views({t.contact_id for t, _ in rows})
    accs = await uow.accounts.views(running)
    mine: dict[str, list[PlannedTouch]] = {}
    for row, _ in rows:
        touch = planned_touch(row, ctx.config.sequence)
        if touch is not None and row.account_id in running:
            mine.setdefault(row.contact_id, []).append(touch)
    moves = []
    for cid, planned in sorted(mine.items()):
        person = people.get(cid)
        aid = planned[0].account_id or ""
        who = recipient_of(person, accs.get(aid), ctx.config) if person else None
        zone = who.timezone if who else ZoneInfo(ctx.config.default_timezone)
        for touch, due, pause in held_back(planned, running[aid], ctx.config, zone):
            moves.append(Moved(touch.touch_id, due, Reason.ACCOUNT_PAUSED.value))
            facts = {"until": pause.until.isoformat(), "due_at": due.isoformat(),
                     "was_due": touch.due_at.isoformat(), "paused_by": pause.contact_id,
                     "event_type": pause.event_type, "channel": touch.channel.value}  # fmt: skip
            log.append(ctx.row(TouchDecision.TOUCH_DEFERRED, Reason.ACCOUNT_PAUSED, cid, aid,
                               touch.touch_id, facts, pause.event_id))  # fmt: skip
    await uow.touches.move(moves)


async def resume_account(
    uow: UnitOfWork, account_id: str, now: datetime, by: str, version: str = "ops-api"
) -> list[DecisionRecord]:
    """The rep acknowledged a reminder at the account: a running pause ends and each contact's
    paused touches move back together, the first due now (the scheduler still keeps windows and
    caps). Returns the records it logged."""
    marks = await uow.decisions.account_pauses([account_id], now - LONGEST_PAUSE)
    if not active_pauses(marks, now).get(account_id):
        return []

    def record(kind: TouchDecision, touch: str | None, contact: str | None) -> DecisionRecord:
        return DecisionRecord(
            contact_id=contact, account_id=account_id, touch_id=touch, kind=kind,
            reason=Reason.PAUSE_LIFTED, facts={"by": by}, playbook_version=version,
            decided_at=now,
        )  # fmt: skip

    log = [record(TouchDecision.ACCOUNT_RESUMED, None, None)]
    paused = [t for t, why in await uow.touches.planned_at([account_id])
              if why == Reason.ACCOUNT_PAUSED.value]  # fmt: skip
    first: dict[str, datetime] = {}
    for t in paused:  # each contact's touches move back together: the first one is due now
        first[t.contact_id] = min(t.due_at, first.get(t.contact_id, t.due_at))
    back = [Moved(t.id, max(now, t.due_at - (first[t.contact_id] - now)), None) for t in paused]
    await uow.touches.move(back)
    log += [record(TouchDecision.TOUCH_PLANNED, t.id, t.contact_id) for t in paused]
    await uow.decisions.log(log)
    return log


def entered_gaps(decision: Decision, playbook: Playbook) -> list[tuple[CommitteeGap, str]]:
    """(gap, when) of each account the batch moved into a stage lacking the wanted roles."""
    last = {}
    for t in decision.transitions:
        if t.subject_kind == "account":
            last[t.subject_key] = t
    out = []
    for aid, t in sorted(last.items()):
        account = decision.accounts.get(aid)
        wanted = playbook.accounts.wanted_roles
        gap = committee_gap(account, wanted) if account is not None else None
        if gap is not None and gap.stage is t.to_stage:
            out.append((gap, t.occurred_at.isoformat()))
    return out


async def committee_gap_needs(
    uow: UnitOfWork, decision: Decision, playbook: Playbook, now: datetime, log: Log,
    version: str,
) -> list[ReminderNeed]:  # fmt: skip
    """Reminder needs for the gaps the batch opened; one already told (same account and
    stage, ever) is logged as deduplicated instead."""
    gaps = entered_gaps(decision, playbook)
    if not gaps:
        return []
    told = await uow.reminders.notes(stable_id("r_", g.dedup_key) for g, _ in gaps)
    people = await uow.contacts.views(
        {k for g, _ in gaps for k in (*g.closest, g.champion) if k is not None}
    )
    needs = []
    for gap, at in gaps:
        contact = gap.champion or gap.closest[0]
        if stable_id("r_", gap.dedup_key) in told:
            facts = {"missing": list(gap.missing), "stage": gap.stage.value}
            log.append(DecisionRecord(
                contact_id=contact, account_id=gap.account_id, facts=facts,
                kind=TouchDecision.REMINDER_DEDUPLICATED, reason=Reason.COMMITTEE_GAP,
                playbook_version=version, decided_at=now,
            ))  # fmt: skip
            continue
        story, points = gap_in_words(gap, people, at)
        needs.append(ReminderNeed(contact, gap.account_id, ReminderReason.COMMITTEE_GAP,
                                  (gap.dedup_key,), dedup_key=gap.dedup_key, story=story,
                                  points=points))  # fmt: skip
    return needs


def gap_in_words(
    gap: CommitteeGap, people: Mapping[str, ContactView], at: str
) -> tuple[tuple[dict[str, str], ...], tuple[str, ...]]:
    """The reminder's story and talking points: the missing roles, who is closest, what next."""

    def name(key: str | None) -> str:
        p = people.get(key or "")
        traits = p.traits if p else {}
        full = traits.get("name") or " ".join(
            str(traits[k]) for k in ("first_name", "last_name") if traits.get(k)
        )
        return contact_label(str(full) if full else None, p.email if p else None)

    missing = " or ".join(gap.missing)
    stage = gap.stage.value.upper() if gap.stage is Stage.MQL else gap.stage.value
    story = [{"said": f"leads an account that reached {stage} with no {missing} engaged yet",
              "at": at}]  # fmt: skip
    closest = [f"{name(k)} ({people[k].role if k in people else 'role unknown'})"
               for k in gap.closest[:3]]  # fmt: skip
    champion = name(gap.champion) if gap.champion else "your contact"
    if closest:
        story.append({"said": f"{', '.join(closest)}: known at the account, not engaged yet"})
        step = f"Ask {champion} to bring {closest[0]} into the next conversation"
    else:
        step = f"Ask {champion} who decides as {missing} and for an introduction"
    points = (
        f"Missing at {stage}: {missing}",
        f"Closest: {', '.join(closest)}" if closest else f"Nobody known yet as {missing}",
        step,
    )
    return tuple(story), points
