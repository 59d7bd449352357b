"""``handle_handoff_clock``: the SLA pass over open handoffs, run with the reminder clock each
scheduler round (and by ``trellis simulate`` at each handoff's deadline).

A handoff past its deadline reminds its owner once: a new touch for the handoff's own reminder
(``reminders/handoff_breached``, acknowledging it takes the handoff), in the owner's working
hours. Still untaken ``escalate_after_hours`` of working time later, the team lead (or, when the
owner is the lead, the next person in the team) gets one reminder of their own, due in *their*
working hours. Each step once (``domain.handoffs.due_steps``), each in the decision log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from services.orchestrator.application.due import reminder_step
from services.orchestrator.application.handoffs import CHANNEL, reason_of, zone_of
from services.orchestrator.application.unit_of_work import NewReminder, NewTouch, UnitOfWork
from services.orchestrator.domain.handoff_story import KIND_WORDS
from services.orchestrator.domain.handoffs import Handoff, HandoffStep, due_steps, escalation_target
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import decided as record
from services.orchestrator.domain.touch_log import TouchDecision, stable_id
from services.orchestrator.people import Nurture

BREACHED = "handoff_breached"
ESCALATED = "handoff_escalated"


@dataclass(frozen=True)
class Clocked:
    breached: int
    escalated: int


async def handle_handoff_clock(uow: UnitOfWork, nurture: Nurture, now: datetime) -> Clocked:
    config = nurture.config
    if not config.teams:
        return Clocked(0, 0)
    due = await uow.handoffs.due(now)
    if not due:
        return Clocked(0, 0)
    people = await uow.contacts.views({h.contact_id for h in due})
    accs = await uow.accounts.views({h.account_id for h in due})
    window = config.window_for(CHANNEL)
    reminders: list[NewReminder] = []
    touches: list[NewTouch] = []
    log = []
    changed: list[Handoff] = []
    breached = escalated = 0
    for h in due:
        stage = (people[h.contact_id].stage if h.contact_id in people else None) or "engaged"
        facts: dict[str, object] = {
            "handoff": h.id, "kind": h.kind.value, "team": h.team, "owner": h.owner,
            "deadline_at": h.deadline_at.isoformat(),
        }  # fmt: skip
        for step in due_steps(h, now):
            if step is HandoffStep.BREACH_REMINDER:
                breached += 1
                h = replace(h, breached_at=now)
                tid = None
                if h.owner and h.reminder_id:
                    tid = stable_id("t_", h.reminder_id, "breach")
                    when = window.next_open(now, zone_of(config, h.owner))
                    touches.append(NewTouch(tid, h.contact_id, h.account_id, CHANNEL,
                                            f"reminders/{BREACHED}", stage,
                                            reminder_step(reason_of(h.kind), h.reminder_id),
                                            when))  # fmt: skip
                    facts = facts | {"due_at": when.isoformat()}
                log.append(record(TouchDecision.HANDOFF_BREACHED, Reason.SLA_BREACHED, h.contact_id,
                                  h.account_id, now, facts, touch_id=tid))  # fmt: skip
            else:
                escalated += 1
                to = escalation_target(config.team(h.team), h.owner)
                h = replace(h, escalated_at=now, escalated_to=to)
                rid = None
                if to is not None:
                    rid = stable_id("r_", h.id, "escalation")
                    when = window.next_open(now, zone_of(config, to))
                    account = accs.get(h.account_id)
                    name = (account.name or account.domain) if account else None
                    story, points = _escalation_story(h, name or "the account")
                    lead = NewReminder(rid, to, h.contact_id, h.account_id, ESCALATED, story,
                                       points, when)  # fmt: skip
                    reminders.append(lead)
                    touches.append(lead.touch(CHANNEL, stage))
                    facts = facts | {"to": to, "due_at": when.isoformat()}
                log.append(record(TouchDecision.HANDOFF_ESCALATED, Reason.SLA_ESCALATED,
                                  h.contact_id, h.account_id, now, facts,
                                  touch_id=rid))  # fmt: skip
        changed.append(h)
    await uow.handoffs.save(changed)
    await uow.reminders.add(reminders, now)
    await uow.touches.add(touches, now)
    await uow.decisions.log(log)
    return Clocked(breached, escalated)


def _escalation_story(
    h: Handoff, account: str
) -> tuple[tuple[dict[str, str], ...], tuple[str, ...]]:
    owner = h.owner or "nobody (the team had no one to take it)"
    said = (f"{account}: {KIND_WORDS[h.kind]} was handed to {owner} and is overdue since "
            f"{h.deadline_at:%a %d %b %H:%M} UTC")  # fmt: skip
    items = [{"said": said, "at": h.created_at.isoformat()}]
    if h.breached_at is not None:
        items.append({"said": f"{owner} was reminded", "at": h.breached_at.isoformat()})
    return tuple(items), (
        f"Check with {owner} or take the account yourself",
        "Reassign it in the CRM (crm_owner_changed with its team) if the owner cannot",
    )
