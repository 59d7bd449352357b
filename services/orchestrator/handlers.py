"""Orchestrator handlers: load -> decide -> save (one transaction) -> offsets committed by the loop.

``apply_engagement`` claims the batch's event ids in the inbox, resolves identities, loads the
affected contacts and accounts in bulk, runs the pure ``decide`` and saves everything — states,
aliases, stage history and the decision log — in the same transaction. A redelivered or replayed
event is not fresh in the inbox and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters import consent_store, decision_log
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.inbox import InboxEntry, claim
from services.orchestrator.adapters.tables import contacts
from services.orchestrator.domain.consent import summary as consent_summary
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement, to_engagement
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
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.domain.state import LogEntry
from services.orchestrator.nurture import Nurture, plan_for_changes
from trellis.consumer import Record, Rejected

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Decoded = list[tuple[Record, EngagementEvent]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def decode_engagement(records: Sequence[Record]) -> tuple[Decoded, list[Rejected]]:
    """Split records into valid events and schema-invalid poison (never retried)."""
    good: Decoded = []
    bad: list[Rejected] = []
    for record in records:
        if record.value is None:
            bad.append(Rejected(record, "empty message value"))
            continue
        try:
            good.append((record, EngagementEvent.model_validate_json(record.value)))
        except ValidationError as exc:
            bad.append(Rejected(record, "schema: " + _short(exc)))
    return good, bad


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
    )


# Parsed states per engine, reused only while the stored text is unchanged (see StateCache).


async def apply_engagement(
    records: Sequence[Record],
    engine: AsyncEngine,
    playbook: Playbook,
    clock: Clock = utc_now,
    caches: repo.StateCaches | None = None,
    nurture: Nurture | None = None,
) -> list[Rejected]:
    good, rejected = decode_engagement(records)
    now = clock()
    caches = caches or repo.StateCaches()  # the process passes one long-lived cache
    async with engine.begin() as conn:
        fresh_ids = await claim(
            conn, [InboxEntry(e.id, r.topic, r.partition, r.offset) for r, e in good], now
        )
        # one event id may occur twice in a batch (a retry): apply its first copy only
        fresh: dict[str, EngagementEvent] = {}
        for _, e in good:
            if e.id in fresh_ids:
                fresh.setdefault(e.id, e)
        if fresh:
            await _apply(conn, list(fresh.values()), playbook, now, caches, nurture)
    if len(fresh_ids) < len(good):
        log.debug("skipped %d redelivered engagement events", len(good) - len(fresh_ids))
    return rejected


async def _apply(
    conn: AsyncConnection,
    events: list[EngagementEvent],
    playbook: Playbook,
    now: datetime,
    caches: repo.StateCaches,
    nurture: Nurture | None = None,
) -> None:
    events.sort(key=lambda e: (e.time, e.id))
    known = await repo.known_aliases(conn, (a for e in events for a in contact_aliases(e)))
    res = resolve_contacts(events, known)
    refs = [account_refs(e) for e in events]
    stored = await repo.known_accounts(conn, (x for x, _ in refs if x), (d for _, d in refs if d))
    acc = resolve_accounts(events, stored)
    losers = {m.loser for m in res.merges}
    contact_ids = set(res.contact_of.values()) | losers
    states = await repo.load_contacts(conn, contact_ids, caches.contacts)
    engagements = [_engagement(e, res.contact_of[e.id], acc.account_of[e.id]) for e in events]
    # a merged contact's recent history joins the survivor's batch (the domain dedups by id)
    for merge in res.merges:
        loser_state = states.pop(merge.loser, None)
        if loser_state is not None:
            engagements.extend(replace(p, contact_key=merge.winner) for p in loser_state.pending)
    touched_accounts = {a for a in acc.account_of.values() if a} | {
        s.account_key for s in states.values() if s.account_key
    }
    account_states = await repo.load_accounts(conn, touched_accounts, caches.accounts)
    decision = decide(states, account_states, engagements, playbook, now)

    await _retire(conn, res, now)
    await repo.save_aliases(conn, res.new_aliases, res.moved_aliases, now)
    await repo.save_contacts(
        conn, decision.contacts, _contact_identity(events, res), now, caches.contacts
    )
    await repo.save_accounts(
        conn, decision.accounts, _account_identity(events, acc), now, caches.accounts
    )
    await repo.add_history(conn, decision.transitions, playbook.version)
    consent = await consent_store.record(conn, _consent_rows(events, res))
    await decision_log.add_decisions(
        conn,
        [*decision.log, *_merge_log(res, playbook, now), *_consent_log(consent, playbook, now)],
    )
    if nurture is not None:  # touches planned and reminders created, in this transaction
        changed = {r.item.contact_id: r.event_id for r in consent}
        await plan_for_changes(
            conn, nurture, decision, events, res.contact_of, acc.account_of, now, changed
        )


def _consent_rows(
    events: Sequence[EngagementEvent], res: Resolution
) -> list[consent_store.LedgerRow]:
    """``consent_given`` / ``consent_withdrawn`` events append to the contact's ledger."""
    rows = []
    for e in events:
        source = e.received_from or e.source  # the authenticated source, where ingest said
        item = consent_from_event(res.contact_of[e.id], e.type, e.properties, source, e.time)
        if item is not None:
            rows.append(consent_store.LedgerRow(item, e.id))
    return rows


def _consent_log(
    rows: Sequence[consent_store.LedgerRow], playbook: Playbook, now: datetime
) -> list[LogEntry]:
    out = []
    for r in rows:
        reason, facts = consent_summary(r.item)
        out.append(
            LogEntry(
                kind=DecisionKind.CONSENT_CHANGED,
                reason=reason,
                contact_key=r.item.contact_id,
                account_key=None,
                event_id=r.event_id,
                facts=facts,
                playbook_version=playbook.version,
                decided_at=now,
            )
        )
    return out


def _engagement(event: EngagementEvent, contact_id: str, account_id: str | None) -> Engagement:
    return to_engagement(event, contact_id, account_id)


async def _retire(conn: AsyncConnection, res: Resolution, now: datetime) -> None:
    """Merged-away contacts give up their unique identifiers to the survivor."""
    for merge in res.merges:
        await conn.execute(
            update(contacts)
            .where(contacts.c.id == merge.loser)
            .values(email=None, external_id=None, stage="merged", updated_at=now)
        )


def _contact_identity(
    events: Sequence[EngagementEvent], res: Resolution
) -> dict[str, KnownIdentity]:
    out: dict[str, KnownIdentity] = {}
    for e in events:
        cid = res.contact_of[e.id]
        known = out.get(cid)
        ext, email = e.contact.external_id, e.contact.email
        if known is None or ext or email:  # the last event's identifiers win
            out[cid] = KnownIdentity(
                external_id=ext or (known.external_id if known else None),
                email=str(email) if email else (known.email if known else None),
            )
    return out


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


def _merge_log(res: Resolution, playbook: Playbook, now: datetime) -> list[LogEntry]:
    return [
        LogEntry(
            kind=DecisionKind.IDENTITY_MERGED,
            reason="identity_merged",
            contact_key=m.winner,
            account_key=None,
            event_id=m.event_id,
            facts={"merged": m.loser, "via": m.via},
            playbook_version=playbook.version,
            decided_at=now,
        )
        for m in res.merges
    ]
