"""Rep reminders through the unit of work: the batch's signals that call for a rep (a demo
request, a detractor, several people at an MQL account on the pricing page, a renewal window),
each deduplicated, sent to the contact's owner (a pool rep when it has none) in the rep's
working hours, with its call touch; CRM owner changes, applied only when the owner is a rep;
and the pool's picks, stored as ``owner_rep`` on the account and the contact.

The pool is least-loaded, not a rotating pointer: it needs no shared counter between
orchestrator instances, and over any run of new accounts it deals them out evenly (ties go to
the pool's order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from services.orchestrator.application.unit_of_work import NewReminder, NewTouch, UnitOfWork
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.owners import OwnerRefused, RepDirectory, resolve_owner
from services.orchestrator.domain.quiet_hours import resolve_timezone
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.records import decided as _record
from services.orchestrator.domain.reminders import (
    DEDUP_WINDOW,
    ReminderNeed,
    ReminderReason,
    Signal,
)
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import (
    DispatchProblem,
    PlanReason,
    TouchDecision,
    stable_id,
)
from services.orchestrator.domain.views import AccountView, ContactView
from services.orchestrator.people import Nurture, recipient_of, rep_for

PRICING_LOOKBACK = timedelta(days=14)


class Call(NamedTuple):
    """A call reminder ``create_reminders`` made: its id and rep (a handoff rides on it)."""

    reminder_id: str
    rep: str


CALL_REASONS = {
    ReminderReason.DEMO_REQUESTED,
    ReminderReason.CONTACT_SALES,
    ReminderReason.BECAME_SQL,
}
Log = list[DecisionRecord]


async def owner_changes(
    uow: UnitOfWork, signals: Sequence[Signal], reps: RepDirectory, now: datetime, log: Log
) -> None:
    """Owners are reps: a change naming anyone else is logged as refused and changes nothing
    (reminders go to the previous owner, else the pool)."""
    for s in signals:
        team = str(s.properties.get("team") or "sales").strip().lower()
        if s.type != "crm_owner_changed" or team != "sales":
            continue  # another team's owner (``application.team_owners``) is not the rep
        cid, aid = s.contact_id, s.account_id
        owner = resolve_owner(s.properties, reps)
        if isinstance(owner, OwnerRefused):
            facts = {"owner_id": str(s.properties.get("owner_id") or ""), "claimed": owner.claimed}
            log.append(_record(TouchDecision.OWNER_REFUSED, owner.reason, cid, aid, now,
                               facts, event_id=s.event_id))  # fmt: skip
            continue
        await uow.contacts.set_owners({cid: owner[:200]}, if_unowned=False)
        if aid:
            await uow.accounts.set_owners({aid: owner[:200]}, if_unowned=False)
        log.append(_record(TouchDecision.OWNER_CHANGED, Reason.CRM_OWNER, cid, aid, now,
                           {"owner": owner}, event_id=s.event_id))  # fmt: skip


def is_pricing_view(s: Signal) -> bool:
    if s.type != "page_viewed":
        return False
    if s.properties.get("is_pricing") is True:
        return True
    where = s.properties.get("path") or s.properties.get("url") or ""
    return isinstance(where, str) and "/pricing" in where.lower()


async def pricing_viewers(
    uow: UnitOfWork, signals: Sequence[Signal], now: datetime, log: Log
) -> dict[str, dict[str, str]]:
    """account -> {contact: event id}: this batch's pricing views plus the logged recent ones."""
    views = [s for s in signals if is_pricing_view(s) and s.account_id]
    if not views:
        return {}
    out: dict[str, dict[str, str]] = {}
    accounts = {s.account_id for s in views if s.account_id}
    for aid, cid, eid in await uow.decisions.pricing_views(accounts, now - PRICING_LOOKBACK):
        out.setdefault(aid, {}).setdefault(cid, eid)
    for s in views:
        assert s.account_id is not None
        out.setdefault(s.account_id, {}).setdefault(s.contact_id, s.event_id)
        log.append(_record(TouchDecision.PRICING_VIEWED, Reason.PRICING_PAGE, s.contact_id,
                           s.account_id, now, {}, event_id=s.event_id))  # fmt: skip
    return out


def least_loaded(pool: Sequence[str], load: Counter[str]) -> str:
    """The pool member with the fewest owned accounts; ties: the first in the pool."""
    return min(pool, key=lambda rep: (load[rep], pool.index(rep)))


async def assign_owners(
    uow: UnitOfWork,
    people: MutableMapping[str, ContactView],
    accs: MutableMapping[str, AccountView],
    pool: Sequence[str],
    contact_ids: Iterable[str],
    now: datetime,
    log: Log,
) -> None:
    """Give each of ``contact_ids`` without an owner (its own or its account's) a pool rep,
    stored, and put the owned views into ``people`` / ``accs`` so the caller's reads see it."""
    unowned = [
        cid
        for cid in sorted(set(contact_ids))
        if cid in people
        and not people[cid].owner_rep
        and not _owner(accs.get(people[cid].account_id or ""))
    ]
    if not pool or not unowned:
        return
    load = await uow.accounts.owned_counts(pool)
    firms: dict[str, str] = {}
    persons: dict[str, str] = {}
    for cid in unowned:
        person = people[cid]
        aid = person.account_id
        account = accs.get(aid or "")
        rep = _owner(account) or least_loaded(pool, load)
        if account is not None and not account.owner_rep:
            accs[account.id] = replace(account, owner_rep=rep)
            load[rep] += 1
            firms[account.id] = rep
        people[cid] = replace(person, owner_rep=rep)
        persons[cid] = rep
        log.append(_record(TouchDecision.OWNER_CHANGED, Reason.POOL_ASSIGNED, cid, aid, now,
                           {"owner": rep, "pool_size": len(pool)}))  # fmt: skip
    await uow.accounts.set_owners(firms, if_unowned=True)  # one write each, not one per person
    await uow.contacts.set_owners(persons, if_unowned=True)


def _owner(account: AccountView | None) -> str | None:
    return account.owner_rep if account is not None else None


async def create_reminders(
    uow: UnitOfWork,
    nurture: Nurture,
    needs: Sequence[ReminderNeed],
    people: MutableMapping[str, ContactView],
    accs: MutableMapping[str, AccountView],
    now: datetime,
    log: Log,
    calls: dict[str, Call] | None = None,
) -> set[str]:
    """Create reminders (and their call touches); return contacts whose rep is being called.
    ``calls``: filled with contact -> the call reminder made now (a handoff rides on it)."""
    seen = await uow.reminders.recent((n.contact_id for n in needs), now - DEDUP_WINDOW)
    version = nurture.config.version or "nurture"
    await assign_owners(uow, people, accs, nurture.rep_pool, [n.contact_id for n in needs],
                        now, log)  # fmt: skip
    reminders: list[NewReminder] = []
    touches: list[NewTouch] = []
    called: set[str] = set()
    for n in needs:
        person = people.get(n.contact_id)
        if person is None:
            continue
        if n.reason in CALL_REASONS:
            called.add(n.contact_id)
        if (n.contact_id, n.reason.value) in seen:
            rule = Reason(n.reason.value)
            log.append(_record(TouchDecision.REMINDER_DEDUPLICATED, rule, n.contact_id,
                               n.account_id, now, {"evidence": list(n.evidence)},
                               version=version))  # fmt: skip
            continue
        seen.add((n.contact_id, n.reason.value))
        account = accs.get(person.account_id or "")
        rep = n.rep or rep_for(person, account, nurture.rep_pool)  # n.rep: the account's CSM
        rid = (
            stable_id("r_", n.dedup_key)
            if n.dedup_key
            else stable_id("r_", n.contact_id, n.reason.value, *n.evidence)
        )
        template = f"reminders/{n.reason.value}"
        channel = TouchChannel.REP_CALL_REMINDER
        if rep is None:
            facts: dict[str, object] = {
                "reason": n.reason.value,
                "channel": channel.value,
                "template": template,
                "due_at": now.isoformat(),
            }
            log.append(_record(TouchDecision.TOUCH_SKIPPED, DispatchProblem.NO_REP,
                               n.contact_id, n.account_id, now, facts, touch_id=rid,
                               version=version))  # fmt: skip
            continue
        who = recipient_of(person, account, nurture.config, rep)
        tz = (
            (who.rep_timezone or who.timezone)
            if who
            else resolve_timezone(None, None, {}, nurture.config.default_timezone)
        )
        due = nurture.config.window_for(channel).next_open(max(now, n.due_from or now), tz)
        told = NewReminder(rid, rep, n.contact_id, person.account_id, n.reason.value,
                           tuple(n.story or n.evidence), n.talking_points, due)  # fmt: skip
        reminders.append(told)
        touches.append(told.touch(channel, Stage(str(person.stage)).value))
        if calls is not None and n.reason in CALL_REASONS:
            calls.setdefault(n.contact_id, Call(rid, rep))
        facts = {"reason": n.reason.value, "rep": rep, "evidence": list(n.evidence),
                 "due_at": due.isoformat()}  # fmt: skip
        if n.points:  # this case's own points (a committee gap's roles and people): the why
            facts["talking_points"] = list(n.points)
        log.append(_record(TouchDecision.REMINDER_CREATED, PlanReason.REP_RULE, n.contact_id,
                           person.account_id, now, facts, touch_id=rid,
                           version=version))  # fmt: skip
    await uow.reminders.add(reminders, now)
    await uow.touches.add(touches, now)
    return called
