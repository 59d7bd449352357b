"""What the scheduler builds for a claimed touch: the planned touch it re-checks, the address it
goes to, the ``DispatchTouch`` command with the template's variables, the topic and key it
travels on, and the decision record of what became of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.commands import Channel as WireChannel
from schemas.commands import DispatchTouch
from schemas.topics import REMINDERS, TOUCHES
from services.orchestrator.adapters import touch_store
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.eligibility import PlannedTouch
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.people import Nurture, rep_for
from services.orchestrator.reminder_variables import reminder_variables
from trellis.message_templates import account_label, contact_label


def planned_touch(touch: StoredTouch, sequence_of: Callable[[str], Any]) -> PlannedTouch | None:
    """The stored touch as the planner's ``PlannedTouch``; None when its step or stage is no
    longer in the plan."""
    seq_id, _, step_id = (touch.sequence_step or "").partition("/")
    window = None
    if seq_id != "reminder":
        sequence = sequence_of(seq_id)
        step = next((s for s in sequence.steps if s.id == step_id), None) if sequence else None
        if step is None:
            return None
        window = step.window
    if touch.stage not in Stage._value2member_map_:
        return None
    return PlannedTouch(
        touch_id=touch.id, contact_id=touch.contact_id, account_id=touch.account_id,
        sequence_id=seq_id, step_id=step_id, stage=Stage(touch.stage),
        channel=TouchChannel(touch.channel), template=touch.template_id, window=window,
        due_at=touch.due_at,
    )  # fmt: skip


def address(
    channel: TouchChannel,
    person: ContactView,
    account: AccountView | None,
    note: ReminderNote | None,
    nurture: Nurture,
) -> str | None:
    if channel.is_reminder:
        return (note.rep if note else None) or rep_for(person, account, nurture.rep_pool)
    if channel is TouchChannel.SMS:
        phone = person.traits.get("phone")
        return phone if isinstance(phone, str) else None
    return person.email


def people_variables(
    person: ContactView, account: AccountView | None, rep: str | None = None
) -> dict[str, Any]:
    """``contact``, ``account`` and ``rep`` as templates see them (template_files.VARIABLES);
    ``rep``: the one being reminded, else the owner."""
    traits = person.traits
    acc_traits = account.traits if account is not None else {}
    owner = account.owner_rep if account is not None else None
    rep = rep or person.owner_rep or owner or ""
    name = traits.get("name") or " ".join(
        str(traits[k]) for k in ("first_name", "last_name") if traits.get(k)
    )
    account_name = (account.name if account else None) or acc_traits.get("name")
    domain = account.domain if account else None
    return {
        "contact": {
            "first_name": traits.get("first_name"), "last_name": traits.get("last_name"),
            "name": traits.get("name"), "email": person.email,
            "title": traits.get("title"), "role": person.role,
            "label": contact_label(name, person.email),
        },
        "account": {
            "name": account_name, "domain": domain,
            "industry": acc_traits.get("industry"), "region": acc_traits.get("region"),
            "label": account_label(account_name, domain),
            "stage": account.stage if account else None,
        },
        "rep": {"email": rep, "name": rep.split("@")[0].replace(".", " ").title() if rep else ""},
    }  # fmt: skip


def command(
    touch: StoredTouch,
    to: str,
    channel_of_rep: Callable[[str], str | None],
    person: ContactView,
    account: AccountView | None,
    note: ReminderNote | None,
    now: datetime,
) -> DispatchTouch:
    channel = TouchChannel(touch.channel)
    rep = to if channel.is_reminder else None
    variables: dict[str, Any] = {"stage": touch.stage, **people_variables(person, account, rep)}
    if rep and (via := channel_of_rep(rep)):
        variables["rep_channel"] = via  # the notifier's RepReminderRouter honours it
    if note is not None:
        variables |= reminder_variables(note, person, account, variables, touch.due_at, now)
    return DispatchTouch(
        touch_id=touch.id, contact_id=touch.contact_id, account_id=touch.account_id,
        channel=WireChannel(channel.value), template_id=touch.template_id, stage=touch.stage,
        to=to, variables=variables, marketing=not channel.is_reminder, decided_at=now,
    )  # fmt: skip


def topic_for(cmd: DispatchTouch) -> tuple[str, bytes]:
    """(topic, key) a command travels on: a rep reminder on the reminders lane keyed by the rep
    (one rep's reminders in order, never queued behind marketing), else the touches topic keyed
    by the contact."""
    if TouchChannel(cmd.channel.value).is_reminder:
        return REMINDERS, cmd.to.encode()
    return TOUCHES, cmd.contact_id.encode()


def decision_of(
    touch: StoredTouch, status: str, reason: Reason, retry_at: datetime | None,
    now: datetime, version: str,
) -> DecisionRecord:  # fmt: skip
    """What became of a claimed touch: dispatched, skipped, or deferred to ``retry_at``."""
    kind = {
        touch_store.DISPATCHED: TouchDecision.TOUCH_DISPATCHED,
        touch_store.SKIPPED: TouchDecision.TOUCH_SKIPPED,
    }.get(status, TouchDecision.TOUCH_DEFERRED)
    facts = {"channel": touch.channel, "due_at": touch.due_at.isoformat()}
    if retry_at is not None:
        facts["retry_at"] = retry_at.isoformat()
    return DecisionRecord(
        contact_id=touch.contact_id, account_id=touch.account_id, touch_id=touch.id, kind=kind,
        reason=reason, facts=facts, playbook_version=version or "nurture", decided_at=now,
    )  # fmt: skip
