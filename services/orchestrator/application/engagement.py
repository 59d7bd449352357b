"""``handle_engagement``: one batch of engagement events — load, decide, save — in one unit of
work, then (with a nurture plan) the touches and reminders the changes call for.

The inbox claim comes first: a redelivered or replayed event is not fresh and changes nothing.
Identities are resolved, contacts and accounts loaded in bulk, the pure ``decide`` folds the
events in ``occurred_at`` order, and everything it says is saved together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from schemas.events import EngagementEvent
from services.orchestrator.application import (
    account_plays,
    handoffs,
    planning,
    rep_reminders,
    value_watch,
)
from services.orchestrator.application.history import historical_log
from services.orchestrator.application.unit_of_work import InboxEntry, UnitOfWork
from services.orchestrator.domain.account_merge import absorb_account_merges
from services.orchestrator.domain.consent import LedgerRow
from services.orchestrator.domain.consent import summary as consent_summary
from services.orchestrator.domain.decide import absorb_merges, decide
from services.orchestrator.domain.engagement import to_engagement
from services.orchestrator.domain.identity import (
    AccountResolution,
    KnownIdentity,
    Resolution,
    account_refs,
    contact_aliases,
    resolve_accounts,
    resolve_contacts,
)
from services.orchestrator.domain.outcomes import consent_from_event
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.reminders import Signal, remindable, reminders_needed
from services.orchestrator.domain.stages import DecisionKind, Stage
from services.orchestrator.domain.state import Decision, LogEntry
from services.orchestrator.domain.value_watch import ValueWatchRules
from services.orchestrator.people import Nurture, recipient_of

Received = tuple[InboxEntry, EngagementEvent]


async def handle_engagement(
    uow: UnitOfWork,
    received: Sequence[Received],
    playbook: Playbook,
    now: datetime,
    nurture: Nurture | None = None,
    historical: bool = False,
) -> list[EngagementEvent]:
    """Apply the batch's fresh events; returns them (the redelivered ones are left out).
    ``historical``: imported history, applied with nothing planned (``application.history``)."""
    fresh_ids = await uow.inbox.claim([entry for entry, _ in received], now)
    fresh: dict[str, EngagementEvent] = {}  # one id twice in a batch (a retry): its first copy
    for _, e in received:
        if e.id in fresh_ids:
            fresh.setdefault(e.id, e)
    events = sorted(fresh.values(), key=lambda e: (e.time, e.id))
    if not events:
        return []
    res, acc = await _resolve(uow, events)
    decision = await _decide(uow, events, res, acc, playbook, now, historical)
    await uow.contacts.retire((m.loser for m in res.merges), now)
    await uow.accounts.retire(acc.merges, now)  # before the survivors take their domains
    rules = nurture.config.value_watch if nurture is not None else ValueWatchRules()
    await value_watch.absorb_merges(uow, acc.merges, now, rules)
    await uow.contacts.save_aliases(res.new_aliases, res.moved_aliases, now)
    await uow.contacts.save(decision.contacts, _contact_identity(events, res), now)
    await uow.accounts.save(decision.accounts, _account_identity(events, acc), now)
    await uow.contacts.add_history(decision.transitions, playbook.version)
    consent = await uow.consent.record(_consent_rows(events, res))
    # deal amounts, seats, NPS: what the KPIs count, under the ids this batch resolved
    homes = {k: s.account_key for k, s in decision.contacts.items()}
    await uow.revenue.record(events, res.contact_of, {
        e.id: acc.account_of[e.id] or homes.get(res.contact_of[e.id]) for e in events
    })  # fmt: skip
    await uow.decisions.log_entries(
        [*decision.log, *_merge_log(res, acc, playbook, now),
         *_consent_log(consent, playbook, now)]
    )  # fmt: skip
    if historical:  # the past calls for no touch and no reminder; one decision says so
        await uow.contacts.redate_history(decision.redated)
        await uow.decisions.log(
            historical_log(events, res.contact_of, acc.account_of, playbook.version, now)
        )
        if nurture is not None:  # the time-to-value watch learns from history, reminds no one
            past = [Signal(e.id, res.contact_of[e.id], acc.account_of[e.id], e.type,
                           e.properties, e.time) for e in events]  # fmt: skip
            await value_watch.needs_after_batch(uow, nurture, past, now, [], remind=False)
    elif nurture is not None:  # touches planned and reminders created, in this unit of work
        changed = {r.item.contact_id: r.event_id for r in consent}
        signals = [
            Signal(e.id, res.contact_of[e.id], acc.account_of[e.id], e.type, e.properties, e.time)
            for e in events
        ]
        await plan_after(uow, nurture, decision, signals, now, changed, playbook)
    return events


async def _resolve(
    uow: UnitOfWork, events: Sequence[EngagementEvent]
) -> tuple[Resolution, AccountResolution]:
    aliases = [contact_aliases(e) for e in events]
    known = await uow.contacts.aliases(a for said in aliases for a in said)
    refs = [account_refs(e) for e in events]
    stored = await uow.accounts.known((x for x, _ in refs if x), (d for _, d in refs if d))
    return resolve_contacts(events, known, aliases), resolve_accounts(events, stored, refs)


async def _decide(
    uow: UnitOfWork,
    events: Sequence[EngagementEvent],
    res: Resolution,
    acc: AccountResolution,
    playbook: Playbook,
    now: datetime,
    historical: bool = False,
) -> Decision:
    losers = {m.loser for m in res.merges}
    loaded = await uow.contacts.states(set(res.contact_of.values()) | losers)
    engagements = [to_engagement(e, res.contact_of[e.id], acc.account_of[e.id]) for e in events]
    # a merged contact's recent history joins the survivor's batch (the domain dedups by id)
    states, moved = absorb_merges(loaded, res.merges)
    engagements.extend(moved)
    gone = {m.loser for m in acc.merges}  # merged-away accounts: their people move too
    members = await uow.contacts.of_accounts(gone) if gone else {}
    touched = (
        {a for a in acc.account_of.values() if a}
        | gone
        | {s.account_key for s in states.values() if s.account_key}
    )
    merged = absorb_account_merges(states, members, await uow.accounts.states(touched), acc.merges)
    decision = decide(merged.contacts, merged.accounts, engagements, playbook, now, historical)
    if not merged.carried:
        return decision
    return replace(decision, contacts={**merged.carried, **decision.contacts})


async def plan_after(
    uow: UnitOfWork,
    nurture: Nurture,
    decision: Decision,
    signals: Sequence[Signal],
    now: datetime,
    consent_changed: Mapping[str, str | None],
    playbook: Playbook | None = None,
) -> None:
    """Owners, rep reminders (committee gaps too, with the playbook), sequence exits, then every
    contact whose stage or consent changed gets its plan redone by the pure planner, and a
    paused account's marketing waits. ``consent_changed``: contact -> the event that changed its
    consent (a grant may add touches, a withdrawal cancels them)."""
    log: planning.Log = []
    # before the sales owner is chosen for the call reminders; announced after them
    handed = await handoffs.hand_over(uow, nurture, decision, signals, now, log, defer=True)
    await rep_reminders.owner_changes(uow, signals, nurture.reps, now, log)
    moved = {t.subject_key: t for t in decision.transitions if t.subject_kind == "contact"}
    became_sql = {k for k, t in moved.items() if t.to_stage is Stage.SQL}
    mql = {k for k, a in decision.accounts.items() if a.stage is Stage.MQL}
    pricing = await rep_reminders.pricing_viewers(uow, signals, now, log)
    lead = timedelta(days=nurture.config.renewal_lead_days)
    said = nurture.config.reminders  # remind_late off: a stale hand-raise reminds no one
    needs = remindable(reminders_needed(list(signals), became_sql, mql, pricing, lead), now,
                       timedelta(hours=said.stale_after_hours), said.remind_late)  # fmt: skip
    if playbook is not None:
        version = nurture.config.version or "nurture"
        needs += await account_plays.committee_gap_needs(uow, decision, playbook, now, log, version)
    watched = await value_watch.needs_after_batch(uow, nurture, signals, now, log)  # the CSM's
    needs = value_watch.told_once(needs, watched, now, log, nurture.config.version or "nurture")
    replanned = set(moved) | set(consent_changed)
    people = await uow.contacts.views(replanned | {n.contact_id for n in needs})
    accs = await uow.accounts.views({p.account_id for p in people.values() if p.account_id})
    calls: dict[str, rep_reminders.Call] = {}
    told = await rep_reminders.create_reminders(uow, nurture, needs, people, accs, now, log, calls)
    await handoffs.announce(uow, nurture.config, handed, calls, now, log)  # one reminder, not two
    cause = {**dict(consent_changed), **{k: t.event_id for k, t in moved.items()}}
    recipients = {}
    for cid in sorted(replanned):
        person = people.get(cid)
        who = person and recipient_of(person, accs.get(person.account_id or ""), nurture.config)
        if who:
            recipients[cid] = who
    ctx = planning.Context(nurture.config, now)
    exits = [(s.type, s.contact_id, s.event_id) for s in signals]
    # one read of the stored touches for both: the exits skip in it what they skip in the store
    existing = await uow.touches.existing({*recipients, *planning.exiting(ctx.config, exits)})
    await planning.exit_sequences(uow, ctx, exits, log, existing)  # the more specific reason
    await planning.replan(uow, ctx, recipients, cause, told, log, existing)
    stages = {k: a.stage for k, a in decision.accounts.items()}
    planned_at = {w.account_id for w in recipients.values() if w.account_id}
    await account_plays.hold_paused(uow, ctx, signals, stages, planned_at, log)
    await uow.decisions.log(log)


def _consent_rows(events: Sequence[EngagementEvent], res: Resolution) -> list[LedgerRow]:
    """``consent_given`` / ``consent_withdrawn`` events append to the contact's ledger."""
    rows = []
    for e in events:
        source = e.received_from or e.source  # the authenticated source, where ingest said
        item = consent_from_event(res.contact_of[e.id], e.type, e.properties, source, e.time)
        if item is not None:
            rows.append(LedgerRow(item, e.id))
    return rows


def _consent_log(rows: Sequence[LedgerRow], playbook: Playbook, now: datetime) -> list[LogEntry]:
    out = []
    for r in rows:
        reason, facts = consent_summary(r.item)
        out.append(LogEntry(
            kind=DecisionKind.CONSENT_CHANGED, reason=reason, contact_key=r.item.contact_id,
            account_key=None, event_id=r.event_id, facts=facts,
            playbook_version=playbook.version, decided_at=now,
        ))  # fmt: skip
    return out


def _contact_identity(
    events: Sequence[EngagementEvent], res: Resolution
) -> dict[str, KnownIdentity]:
    said: dict[str, tuple[str | None, str | None]] = {}  # (external id, email) per contact
    for e in events:
        cid = res.contact_of[e.id]
        known = said.get(cid)
        ext, email = e.contact.external_id, e.contact.email
        if known is None or ext or email:  # the last event's identifiers win
            said[cid] = (
                ext or (known[0] if known else None),
                str(email) if email else (known[1] if known else None),
            )
    return {cid: KnownIdentity(external_id=x, email=m) for cid, (x, m) in said.items()}


def _account_identity(
    events: Sequence[EngagementEvent], acc: AccountResolution
) -> dict[str, KnownIdentity]:
    out = {
        aid: KnownIdentity(external_id=c.get("external_id"), domain=c.get("domain"))
        for aid, c in acc.claims.items()
    }
    for e in events:
        aid = acc.account_of[e.id]
        if aid is not None and e.account is not None and e.account.traits:
            known = out.get(aid) or KnownIdentity()
            out[aid] = replace(known, traits={**known.traits, **e.account.traits})
    return out


def _merge_log(
    res: Resolution, acc: AccountResolution, playbook: Playbook, now: datetime
) -> list[LogEntry]:
    people = [
        LogEntry(
            kind=DecisionKind.IDENTITY_MERGED, reason="identity_merged", contact_key=m.winner,
            account_key=None, event_id=m.event_id, facts={"merged": m.loser, "via": m.via},
            playbook_version=playbook.version, decided_at=now,
        )
        for m in res.merges
    ]  # fmt: skip
    firms = [
        LogEntry(
            kind=DecisionKind.IDENTITY_MERGED, reason="identity_merged", contact_key=None,
            account_key=m.winner, event_id=m.event_id,
            facts={"merged_account": m.loser, "via": m.via, "domain_kept_by_merged": m.domain},
            playbook_version=playbook.version, decided_at=now,
        )
        for m in acc.merges
    ]  # fmt: skip
    return [*people, *firms]
