"""Rep reminders: the batch's signals that call for a rep (a demo request, a detractor, several
people at an MQL account on the pricing page, a renewal window), each deduplicated, sent to the
contact's owner (a pool rep when it has none) in the rep's working hours, with its call touch;
and CRM owner changes, applied only when the owner is a rep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.events import EngagementEvent
from services.orchestrator import reps
from services.orchestrator.adapters import touch_store
from services.orchestrator.adapters.tables import accounts, contacts, decisions
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.owners import OwnerRefused, RepDirectory, resolve_owner
from services.orchestrator.domain.quiet_hours import resolve_timezone
from services.orchestrator.domain.records import DecisionRecord
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
CALL_REASONS = {
    ReminderReason.DEMO_REQUESTED,
    ReminderReason.CONTACT_SALES,
    ReminderReason.BECAME_SQL,
}


async def owner_changes(
    conn: AsyncConnection,
    events: Sequence[EngagementEvent],
    contact_of: Mapping[str, str],
    account_of: Mapping[str, str | None],
    now: datetime,
    log: list[DecisionRecord],
    reps: RepDirectory,
) -> None:
    """Owners are reps: a change naming anyone else is logged as refused and changes nothing
    (reminders go to the previous owner, else the pool)."""
    for e in events:
        if e.type != "crm_owner_changed":
            continue
        cid, aid = contact_of[e.id], account_of.get(e.id)
        owner = resolve_owner(e.properties, reps)
        if isinstance(owner, OwnerRefused):
            facts = {"owner_id": str(e.properties.get("owner_id") or ""), "claimed": owner.claimed}
            log.append(DecisionRecord(
                contact_id=cid, account_id=aid, kind=TouchDecision.OWNER_REFUSED,
                reason=owner.reason.value, facts=facts, event_id=e.id,
                playbook_version="nurture", decided_at=now,
            ))  # fmt: skip
            continue
        await conn.execute(
            update(contacts).where(contacts.c.id == cid).values(owner_rep=owner[:200])
        )
        if aid:
            await conn.execute(
                update(accounts).where(accounts.c.id == aid).values(owner_rep=owner[:200])
            )
        log.append(DecisionRecord(
            contact_id=cid, account_id=aid, kind=TouchDecision.OWNER_CHANGED, reason="CRM_OWNER",
            facts={"owner": owner}, event_id=e.id, playbook_version="nurture", decided_at=now,
        ))  # fmt: skip


def is_pricing_view(s: Signal) -> bool:
    if s.type != "page_viewed":
        return False
    if s.properties.get("is_pricing") is True:
        return True
    where = s.properties.get("path") or s.properties.get("url") or ""
    return isinstance(where, str) and "/pricing" in where.lower()


async def pricing_viewers(
    conn: AsyncConnection, signals: Sequence[Signal], now: datetime, log: list[DecisionRecord]
) -> dict[str, dict[str, str]]:
    """account -> {contact: event id}: this batch's pricing views plus the logged recent ones."""
    views = [s for s in signals if is_pricing_view(s) and s.account_id]
    if not views:
        return {}
    out: dict[str, dict[str, str]] = {}
    rows = await conn.execute(
        select(decisions.c.account_id, decisions.c.contact_id, decisions.c.event_id).where(
            decisions.c.kind == TouchDecision.PRICING_VIEWED.value,
            decisions.c.account_id.in_(sorted({s.account_id for s in views if s.account_id})),
            decisions.c.decided_at > now - PRICING_LOOKBACK,
        )
    )
    for aid, cid, eid in rows:
        out.setdefault(aid, {}).setdefault(cid, eid or "")
    for s in views:
        assert s.account_id is not None
        out.setdefault(s.account_id, {}).setdefault(s.contact_id, s.event_id)
        log.append(DecisionRecord(
            contact_id=s.contact_id, account_id=s.account_id, kind=TouchDecision.PRICING_VIEWED,
            reason="PRICING_PAGE", facts={}, event_id=s.event_id, playbook_version="nurture",
            decided_at=now,
        ))  # fmt: skip
    return out


async def create_reminders(
    conn: AsyncConnection,
    nurture: Nurture,
    needs: Sequence[ReminderNeed],
    people: Mapping[str, ContactView],
    accs: Mapping[str, AccountView],
    now: datetime,
    log: list[DecisionRecord],
) -> set[str]:
    """Create reminders (and their call touches); return contacts whose rep is being called."""
    seen = await touch_store.recent_reminders(
        conn, (n.contact_id for n in needs), now - DEDUP_WINDOW
    )
    version = nurture.config.version or "nurture"
    people, accs = dict(people), dict(accs)  # the pool's picks are written into these
    await reps.assign_owners(
        conn, people, accs, nurture.rep_pool, [n.contact_id for n in needs], now, log
    )
    reminder_rows, touch_rows, called = [], [], set()
    for n in needs:
        person = people.get(n.contact_id)
        if person is None:
            continue
        if n.reason in CALL_REASONS:
            called.add(n.contact_id)
        if (n.contact_id, n.reason.value) in seen:
            log.append(DecisionRecord(
                contact_id=n.contact_id, account_id=n.account_id,
                kind=TouchDecision.REMINDER_DEDUPLICATED, reason=n.reason,
                facts={"evidence": list(n.evidence)}, playbook_version=version, decided_at=now,
            ))  # fmt: skip
            continue
        account = accs.get(person.account_id or "")
        rep = rep_for(person, account, nurture.rep_pool)
        rid = (
            stable_id("r_", n.dedup_key)
            if n.dedup_key
            else stable_id("r_", n.contact_id, n.reason.value, *n.evidence)
        )
        if rep is None:
            log.append(DecisionRecord(
                contact_id=n.contact_id, account_id=n.account_id, touch_id=rid,
                kind=TouchDecision.TOUCH_SKIPPED, reason=DispatchProblem.NO_REP,
                facts={
                    "reason": n.reason.value, "channel": TouchChannel.REP_CALL_REMINDER.value,
                    "template": f"reminders/{n.reason.value}", "due_at": now.isoformat(),
                },
                playbook_version=version, decided_at=now,
            ))  # fmt: skip
            continue
        window = nurture.config.window_for(TouchChannel.REP_CALL_REMINDER)
        who = recipient_of(person, account, nurture.config, rep)
        tz = (
            who.rep_timezone or who.timezone
            if who
            else resolve_timezone(None, None, {}, nurture.config.default_timezone)
        )
        due = window.next_open(max(now, n.due_from or now), tz)
        reminder_rows.append({
            "id": rid, "rep": rep, "contact_id": n.contact_id, "account_id": person.account_id,
            "reason": n.reason.value, "status": "open", "evidence": list(n.story or n.evidence),
            "talking_points": list(n.talking_points), "snoozed_until": None, "due_at": due,
            "created_at": now, "updated_at": now, "suppressed": False,
        })  # fmt: skip
        touch_rows.append(touch_store.planned_row(
            rid, n.contact_id, person.account_id, TouchChannel.REP_CALL_REMINDER.value,
            f"reminders/{n.reason.value}", Stage(str(person.stage)).value,
            f"reminder/{n.reason.value}", due, now,
        ))  # fmt: skip
        log.append(DecisionRecord(
            contact_id=n.contact_id, account_id=person.account_id, touch_id=rid,
            kind=TouchDecision.REMINDER_CREATED, reason=PlanReason.REP_RULE,
            facts={"reason": n.reason.value, "rep": rep, "evidence": list(n.evidence),
                   "due_at": due.isoformat()},
            playbook_version=version, decided_at=now,
        ))  # fmt: skip
    await touch_store.add_reminders(conn, reminder_rows)
    await touch_store.add_touches(conn, touch_rows)
    return called
