"""``handle_due``: touches whose time has come — claim, decide again, mark — in one unit of work.

A round claims a batch of due touches, locks their recipients (so instances sharing a database
count caps one after another), gives an owner-less reminder a pool rep, and asks the planner's
``decide_due`` about each one against the state *now*: Send, Defer (new ``due_at``) or Skip,
each with its reason in the decision log. It returns the commands to publish; the caller
publishes them *before* the unit of work commits, so a failed publish rolls the claim back and
a later round tries again (``touch_id`` is the notifier's idempotency key: sent at most once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import assert_never

from schemas.commands import DispatchTouch
from services.orchestrator.application.rep_reminders import assign_owners
from services.orchestrator.application.unit_of_work import (
    DISPATCHED,
    PLANNED,
    SKIPPED,
    Finished,
    UnitOfWork,
)
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.planner import Defer, Send, Skip, decide_due
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.touch_log import PlanReason
from services.orchestrator.domain.touch_retry import origin_of
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.people import Nurture, recipient_of
from services.orchestrator.touch_commands import address, command, decision_of, planned_touch

HISTORY = timedelta(days=31)
Links = Callable[[str, str | None, str | None, datetime], Mapping[str, str]]
"""(reminder id, contact, account, now) -> the ack/snooze/contact/account link variables."""
Story = Callable[
    [list[DispatchTouch], Mapping[str, ReminderNote], Mapping[str, ContactView],
     Mapping[str, AccountView]],
    Awaitable[None],
]  # fmt: skip
"""Completes the reminder commands' story in place (the account's picture: score, committee,
colleagues; ``reminder_variables.tell_the_story`` live; nothing in a simulation)."""


async def handle_due(
    uow: UnitOfWork,
    nurture: Nurture,
    me: str,
    now: datetime,
    batch: int,
    links: Links | None = None,
    story: Story | None = None,
) -> tuple[int, list[DispatchTouch]]:
    """One round: (touches claimed, commands to publish before commit)."""
    claimed = await uow.touches.claim_due(me, now, batch)
    if not claimed:
        return 0, []
    people = await uow.contacts.views({t.contact_id for t in claimed})
    accs = await uow.accounts.views({p.account_id for p in people.values() if p.account_id})
    await uow.touches.lock(_cap_keys(claimed, people))
    cfg = nurture.config
    ledgers = await uow.consent.ledgers(people)
    accounts = {p.account_id for p in people.values() if p.account_id}
    history = await uow.touches.sent_since(people, accounts, now - HISTORY)
    notes = await _reminder_notes(uow, claimed)
    log: list[DecisionRecord] = []  # a reminder with nobody to go to: a pool rep owns it
    unowned = [t.contact_id for t in claimed if TouchChannel(t.channel).is_reminder
               and not (notes.get(t.id) and notes[t.id].rep)]  # fmt: skip
    await assign_owners(uow, people, accs, nurture.rep_pool, unowned, now, log)
    sends: list[DispatchTouch] = []
    results: list[tuple[StoredTouch, Finished]] = []
    for row in claimed:
        person = people.get(row.contact_id)
        account = accs.get(person.account_id or "") if person else None
        channel, note = TouchChannel(row.channel), notes.get(row.id)
        to = address(channel, person, account, note, nurture) if person else None
        rep = to if channel.is_reminder else None  # whose working hours the window is
        who = recipient_of(person, account, cfg, rep) if person else None
        ledger = replace(ledgers.get(row.contact_id, ConsentLedger()), bases=cfg.legal_basis)
        match decide_due(planned_touch(row, cfg.sequence), who, to, ledger, history, cfg, now):
            case Skip(reason=no):
                results.append((row, Finished(row.id, SKIPPED, no)))
            case Defer(reason=later, until=until):
                results.append((row, Finished(row.id, PLANNED, later, until)))
            case Send():
                assert who is not None and person is not None and to is not None
                history.append(SentTouch(who.contact_id, who.account_id, channel, now))
                cmd = command(row, to, cfg.rep_channel, person, account, note, now)
                if links is not None and note is not None:
                    cmd.variables.update(links(note.id, row.contact_id, row.account_id, now))
                sends.append(cmd)
                results.append((row, Finished(row.id, DISPATCHED, PlanReason.ALLOWED)))
            case unexpected:
                assert_never(unexpected)
    if story is not None and sends:
        await story(sends, notes, people, accs)
    await uow.touches.finish([f for _, f in results], me, now)
    log += [decision_of(r, f.status, f.reason, f.due_at, now, cfg.version) for r, f in results]
    await uow.decisions.log(log)
    return len(claimed), sends


def _cap_keys(claimed: list[StoredTouch], people: Mapping[str, ContactView]) -> set[str]:
    """What the caps count per: the recipient's account (the account cap spans its people),
    else the contact."""
    keys = set()
    for row in claimed:
        person = people.get(row.contact_id)
        account = (person.account_id if person else None) or row.account_id
        keys.add(f"a:{account}" if account else f"c:{row.contact_id}")
    return keys


REMINDER_STEP = "reminder"


def reminder_step(reason: str, reminder_id: str) -> str:
    """``sequence_step`` of a touch made when a snooze ended: it names its reminder."""
    return f"{REMINDER_STEP}/{reason}/{reminder_id}"


def reminder_of_step(step: str | None) -> str | None:
    parts = (step or "").split("/")
    return parts[2] if len(parts) == 3 and parts[0] == REMINDER_STEP else None


async def _reminder_notes(uow: UnitOfWork, claimed: list[StoredTouch]) -> dict[str, ReminderNote]:
    """touch id -> its reminder: a reminder's first touch has the reminder's id (its retries
    that id plus ``~r<n>``), a touch made when a snooze ended names the reminder in its step."""
    reminder_of = {t.id: reminder_of_step(t.sequence_step) or origin_of(t.id)[0] for t in claimed}
    found = await uow.reminders.notes(set(reminder_of.values()))
    return {tid: found[rid] for tid, rid in reminder_of.items() if rid in found}
