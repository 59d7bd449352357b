"""Planning touches and rep reminders after a batch, in the batch's transaction.

``plan_for_changes`` is the one hook ``apply_engagement`` calls after its saves: CRM owner events
set ``owner_rep``; contacts whose stage changed get their stage's sequence planned (touch ids are
stable: contact, sequence, step and stage entry time); rule hits create a deduplicated reminder
for the owner rep plus an immediately due ``rep_call_reminder`` touch (deferred to the rep's next
working hours when outside them). Every plan is in the decision log with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.events import EngagementEvent
from services.orchestrator import planning, reps
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters import touch_store
from services.orchestrator.adapters.tables import accounts, contacts, decisions
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.eligibility import Recipient, SkipReason
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.owners import OwnerRefused, RepDirectory, resolve_owner
from services.orchestrator.domain.quiet_hours import resolve_timezone
from services.orchestrator.domain.reminders import (
    DEDUP_WINDOW,
    ReminderNeed,
    ReminderReason,
    Signal,
    reminders_needed,
)
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import Decision
from services.orchestrator.domain.touch_log import (
    DispatchProblem,
    PlanReason,
    TouchDecision,
    pick_rep,
    stable_id,
)

PRICING_LOOKBACK = timedelta(days=14)
_CALL_REASONS = {
    ReminderReason.DEMO_REQUESTED,
    ReminderReason.CONTACT_SALES,
    ReminderReason.BECAME_SQL,
}


@dataclass(frozen=True)
class Nurture:
    """What planning needs besides the batch: the plan, the reps' round-robin pool and the
    domains whose addresses are reps (``TRELLIS_REP_DOMAINS``)."""

    config: NurtureConfig
    rep_pool: tuple[str, ...] = ()
    rep_domains: tuple[str, ...] = ()

    @property
    def reps(self) -> RepDirectory:
        return RepDirectory(self.config.reps, self.rep_pool, self.rep_domains)


def recipient_of(
    contact: Mapping[str, Any],
    account: Mapping[str, Any] | None,
    config: NurtureConfig,
    rep: str | None = None,
) -> Recipient | None:
    """``rep``: the rep a reminder goes to, whose zone (rep directory) sets its window."""
    if contact["stage"] not in Stage._value2member_map_:
        return None
    traits = contact["traits"] or {}
    region = ((account or {}).get("traits") or {}).get("region")
    nps = traits.get("nps")
    acc_stage = str((account or {}).get("stage"))
    return Recipient(
        contact_id=contact["id"],
        account_id=contact["account_id"],
        stage=Stage(contact["stage"]),
        timezone=resolve_timezone(
            contact["timezone"], region, config.region_timezones, config.default_timezone
        ),
        role=contact["role"],
        account_stage=Stage(acc_stage) if acc_stage in Stage._value2member_map_ else None,
        nps=nps if isinstance(nps, int) else None,
        rep_timezone=config.rep_zone(rep),
    )


def rep_for(
    contact: Mapping[str, Any], account: Mapping[str, Any] | None, pool: tuple[str, ...]
) -> str | None:
    return (
        contact.get("owner_rep")
        or (account or {}).get("owner_rep")
        or pick_rep(pool, contact.get("account_id") or contact["id"])
    )


def _transition_events(decision: Decision) -> dict[str, str | None]:
    """contact -> the event behind its last stage change in this batch."""
    return {t.subject_key: t.event_id for t in decision.transitions if t.subject_kind == "contact"}


def _without_state(table: Any) -> list[Any]:
    """Every column but the lifecycle ``state`` document: touches never read it, and decoding
    it was most of what loading recipients cost."""
    return [c for c in table.c if c.name != "state"]


async def load_people(
    conn: AsyncConnection, contact_ids: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    if not contact_ids:
        return {}, {}
    rows = await conn.execute(
        select(*_without_state(contacts)).where(contacts.c.id.in_(sorted(contact_ids)))
    )
    people = {r["id"]: dict(r) for r in rows.mappings()}
    account_ids = sorted({p["account_id"] for p in people.values() if p["account_id"]})
    accs: dict[str, dict[str, Any]] = {}
    if account_ids:
        rows = await conn.execute(
            select(*_without_state(accounts)).where(accounts.c.id.in_(account_ids))
        )
        accs = {r["id"]: dict(r) for r in rows.mappings()}
    return people, accs


async def plan_for_changes(
    conn: AsyncConnection,
    nurture: Nurture,
    decision: Decision,
    events: Sequence[EngagementEvent],
    contact_of: Mapping[str, str],
    account_of: Mapping[str, str | None],
    now: datetime,
    consent_changed: Mapping[str, str | None] | None = None,
) -> None:
    """``consent_changed``: contact -> the event that changed its consent in this batch (its
    plan is redone: a grant may add touches, a withdrawal cancels them)."""
    consent_changed = consent_changed or {}
    log: list[dict[str, Any]] = []
    await _owner_changes(conn, events, contact_of, account_of, now, log, nurture.reps)
    changed = {t.subject_key for t in decision.transitions if t.subject_kind == "contact"}
    signals = [
        Signal(e.id, contact_of[e.id], account_of.get(e.id), e.type, e.properties, e.time)
        for e in events
    ]
    pricing = await _pricing_viewers(conn, signals, now, log)
    became_sql = {
        t.subject_key
        for t in decision.transitions
        if t.subject_kind == "contact" and t.to_stage is Stage.SQL
    }
    mql = {k for k, a in decision.accounts.items() if a.stage is Stage.MQL}
    lead = timedelta(days=nurture.config.renewal_lead_days)
    needs = reminders_needed(signals, became_sql, mql, pricing, lead)
    people, accs = await load_people(
        conn, changed | set(consent_changed) | {n.contact_id for n in needs}
    )
    told = await _reminders(conn, nurture, needs, people, accs, now, log)
    cause = {**dict(consent_changed), **_transition_events(decision)}
    recipients = {}
    for cid in sorted(changed | set(consent_changed)):
        person = people.get(cid)
        who = (
            recipient_of(person, accs.get(person["account_id"] or ""), nurture.config)
            if person
            else None
        )
        if who is not None:
            recipients[cid] = who
    ctx = planning.Context(nurture.config, now)
    await _exit_sequences(conn, nurture, signals, now, log)  # first: the more specific reason
    await planning.replan(conn, ctx, recipients, cause, told, log)
    if log:
        await repo.log_decisions(conn, log)


async def _exit_sequences(
    conn: AsyncConnection,
    nurture: Nurture,
    signals: Sequence[Signal],
    now: datetime,
    log: list[dict[str, Any]],
) -> None:
    """An event a sequence lists in ``exit_on`` (a demo request ends the education emails)
    skips the contact's planned touches of that sequence, including any planned just now."""
    ended: dict[str, dict[str, str]] = {}  # sequence -> contact -> event id
    for s in signals:
        for seq in nurture.config.exited_by(s.type):
            ended.setdefault(seq, {}).setdefault(s.contact_id, s.event_id)
    for seq, who in sorted(ended.items()):
        skipped = await touch_store.skip_sequence(
            conn, seq, sorted(who), SkipReason.SEQUENCE_EXITED
        )
        for touch_id, contact_id, account_id in skipped:
            log.append(
                _log(
                    TouchDecision.TOUCH_SKIPPED, SkipReason.SEQUENCE_EXITED, contact_id,
                    account_id, touch_id, now, nurture.config.version, {"sequence": seq},
                    event_id=who[contact_id],
                )
            )  # fmt: skip


def _touch_row(
    touch_id: str, contact_id: str, account_id: str | None, channel: TouchChannel, template: str,
    stage: Stage, step: str, due_at: datetime, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": touch_id, "contact_id": contact_id, "account_id": account_id,
        "channel": channel.value, "template_id": template, "stage": stage.value,
        "sequence_step": step, "status": touch_store.PLANNED, "reason": None, "due_at": due_at,
        "claimed_by": None, "claimed_at": None, "dispatched_at": None, "created_at": now,
    }  # fmt: skip


def _log(
    kind: TouchDecision, reason: str, contact_id: str | None, account_id: str | None,
    touch_id: str | None, now: datetime, version: str, facts: dict[str, Any],
    event_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "contact_id": contact_id, "account_id": account_id, "touch_id": touch_id,
        "kind": kind.value, "reason": str(reason), "facts": facts, "event_id": event_id,
        "playbook_version": version or "nurture", "decided_at": now,
    }  # fmt: skip


async def _owner_changes(
    conn: AsyncConnection,
    events: Sequence[EngagementEvent],
    contact_of: Mapping[str, str],
    account_of: Mapping[str, str | None],
    now: datetime,
    log: list[dict[str, Any]],
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
            log.append(_log(TouchDecision.OWNER_REFUSED, owner.reason.value, cid, aid, None,
                            now, "", facts, e.id))  # fmt: skip
            continue
        await conn.execute(
            update(contacts).where(contacts.c.id == cid).values(owner_rep=owner[:200])
        )
        if aid:
            await conn.execute(
                update(accounts).where(accounts.c.id == aid).values(owner_rep=owner[:200])
            )
        log.append(
            _log(
                TouchDecision.OWNER_CHANGED,
                "CRM_OWNER",
                cid,
                aid,
                None,
                now,
                "",
                {"owner": owner},
                e.id,
            )
        )


def is_pricing_view(s: Signal) -> bool:
    if s.type != "page_viewed":
        return False
    if s.properties.get("is_pricing") is True:
        return True
    where = s.properties.get("path") or s.properties.get("url") or ""
    return isinstance(where, str) and "/pricing" in where.lower()


async def _pricing_viewers(
    conn: AsyncConnection, signals: Sequence[Signal], now: datetime, log: list[dict[str, Any]]
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
        log.append(
            _log(
                TouchDecision.PRICING_VIEWED,
                "PRICING_PAGE",
                s.contact_id,
                s.account_id,
                None,
                now,
                "",
                {},
                s.event_id,
            )
        )
    return out


async def _reminders(
    conn: AsyncConnection,
    nurture: Nurture,
    needs: Sequence[ReminderNeed],
    people: Mapping[str, dict[str, Any]],
    accs: Mapping[str, dict[str, Any]],
    now: datetime,
    log: list[dict[str, Any]],
) -> set[str]:
    """Create reminders (and their call touches); return contacts whose rep is being called."""
    seen = await touch_store.recent_reminders(
        conn, (n.contact_id for n in needs), now - DEDUP_WINDOW
    )
    version = nurture.config.version
    await reps.assign_owners(
        conn, dict(people), dict(accs), nurture.rep_pool, [n.contact_id for n in needs], now, log
    )
    reminder_rows, touch_rows, called = [], [], set()
    for n in needs:
        person = people.get(n.contact_id)
        if person is None:
            continue
        if n.reason in _CALL_REASONS:
            called.add(n.contact_id)
        if (n.contact_id, n.reason.value) in seen:
            log.append(
                _log(
                    TouchDecision.REMINDER_DEDUPLICATED,
                    n.reason,
                    n.contact_id,
                    n.account_id,
                    None,
                    now,
                    version,
                    {"evidence": list(n.evidence)},
                )
            )
            continue
        account = accs.get(person["account_id"] or "")
        rep = rep_for(person, account, nurture.rep_pool)
        rid = (
            stable_id("r_", n.dedup_key)
            if n.dedup_key
            else stable_id("r_", n.contact_id, n.reason.value, *n.evidence)
        )
        if rep is None:
            log.append(
                _log(
                    TouchDecision.TOUCH_SKIPPED,
                    DispatchProblem.NO_REP,
                    n.contact_id,
                    n.account_id,
                    rid,
                    now,
                    version,
                    {
                        "reason": n.reason.value,
                        "channel": TouchChannel.REP_CALL_REMINDER.value,
                        "template": f"reminders/{n.reason.value}",
                        "due_at": now.isoformat(),
                    },
                )
            )
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
            "id": rid, "rep": rep, "contact_id": n.contact_id, "account_id": person["account_id"],
            "reason": n.reason.value, "status": "open", "evidence": list(n.story or n.evidence),
            "talking_points": list(n.talking_points), "snoozed_until": None, "due_at": due,
            "created_at": now, "updated_at": now, "suppressed": False,
        })  # fmt: skip
        touch_rows.append(
            _touch_row(
                rid,
                n.contact_id,
                person["account_id"],
                TouchChannel.REP_CALL_REMINDER,
                f"reminders/{n.reason.value}",
                Stage(person["stage"]),
                f"reminder/{n.reason.value}",
                due,
                now,
            )
        )
        log.append(
            _log(
                TouchDecision.REMINDER_CREATED,
                PlanReason.REP_RULE,
                n.contact_id,
                person["account_id"],
                rid,
                now,
                version,
                {
                    "reason": n.reason.value,
                    "rep": rep,
                    "evidence": list(n.evidence),
                    "due_at": due.isoformat(),
                },
            )
        )
    await touch_store.add_reminders(conn, reminder_rows)
    await touch_store.add_touches(conn, touch_rows)
    return called
