"""``on_outcomes``: delivery outcomes from the notifier and provider callbacks, applied once.

Suppressions (unsubscribe, STOP, hard bounce, complaint) are appended to the consent ledger in
the same transaction as the inbox claim, so they take effect for every touch decided after the
commit — including touches already planned, which are decided again when due.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.orchestrator import planning
from services.orchestrator.adapters import consent_store, decision_log, touch_store
from services.orchestrator.adapters.inbox import InboxEntry, claim
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.tables import contacts, touches
from services.orchestrator.domain.consent import Suppression
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.outcomes import consent_for, suppression_for
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.domain.state import LogEntry
from services.orchestrator.domain.touch_log import LaterReason, TouchDecision
from services.orchestrator.domain.touch_retry import Retry, TouchRetryPolicy, origin_of
from services.orchestrator.domain.views import StoredTouch
from trellis.consumer import Record, Rejected

log = logging.getLogger(__name__)
OUTCOME_INBOX_PREFIX = "outcome:"  # outcome ids share the inbox with event ids
MAX_EVENT_ID = 200  # the inbox's and the logs' event_id columns


def inbox_id(outcome: TouchOutcome) -> str:
    """The outcome's key in the inbox and the logs: ``outcome:<id>``, or, for an id so long the
    prefix would overflow the column (a provider's 200-character id), a digest of it."""
    key = OUTCOME_INBOX_PREFIX + outcome.id
    if len(key) <= MAX_EVENT_ID:
        return key
    return f"{OUTCOME_INBOX_PREFIX}sha256:{hashlib.sha256(outcome.id.encode()).hexdigest()}"


TOUCH_STATUS = {
    OutcomeStatus.SENT: "sent",
    OutcomeStatus.DELIVERED: "delivered",
    OutcomeStatus.FAILED: "failed",
    OutcomeStatus.BOUNCED: "bounced",
    OutcomeStatus.COMPLAINED: "complained",
}


async def apply_outcomes(
    records: Sequence[Record],
    engine: AsyncEngine,
    playbook_version: str,
    now: datetime,
    retry: TouchRetryPolicy | None = None,
    plan: NurtureConfig | None = None,
) -> list[Rejected]:
    """``plan``: the nurture plan (its consent bases decide which planned touches a STOP,
    unsubscribe or complaint cancels at once); the shipped default when not given."""
    parsed: list[tuple[Record, TouchOutcome]] = []
    rejected: list[Rejected] = []
    for record in records:
        try:
            parsed.append((record, TouchOutcome.model_validate_json(record.value or b"")))
        except ValidationError as exc:
            first = exc.errors()[0]
            rejected.append(Rejected(record, f"schema: {first['loc']}: {first['msg']}"))
    async with engine.begin() as conn:
        fresh = await claim(
            conn,
            [InboxEntry(inbox_id(o), r.topic, r.partition, r.offset) for r, o in parsed],
            now,
        )
        claimed = {o.id: o for _, o in parsed if inbox_id(o) in fresh}.values()
        outcomes = await _by_phone_owner(conn, claimed)
        rows = []
        log = []
        for o in outcomes:
            suppression = suppression_for(o)
            if suppression is not None:
                rows.append(consent_store.LedgerRow(suppression, inbox_id(o)))
            consent = consent_for(o)
            if consent is not None:
                rows.append(consent_store.LedgerRow(consent, inbox_id(o)))
            log.append(
                LogEntry(
                    kind=(
                        DecisionKind.CONSENT_CHANGED
                        if suppression or consent
                        else DecisionKind.TOUCH_OUTCOME
                    ),
                    reason=f"{suppression.kind.value}" if suppression else o.status.value,
                    contact_key=o.contact_id,
                    account_key=None,
                    event_id=inbox_id(o),
                    facts={
                        "touch_id": o.touch_id,
                        "channel": o.channel.value,
                        "detail": o.detail,
                        "provider_id": o.provider_id,
                    },
                    playbook_version=playbook_version,
                    decided_at=now,
                )
            )
        written = await consent_store.record(conn, rows)
        blocked = {
            r.item.contact_id: r.event_id for r in written if isinstance(r.item, Suppression)
        }
        if blocked:  # what is planned on a channel the recipient just closed is cancelled now
            ctx = planning.Context(plan or default_nurture(), now)
            cancelled: list[DecisionRecord] = []
            await planning.cancel_unreachable(conn, ctx, blocked, {}, cancelled)
            await decision_log.log_decisions(conn, cancelled)
        statuses = [
            {"b_id": o.touch_id, "b_status": TOUCH_STATUS[o.status]}
            for o in outcomes
            if o.touch_id and o.status in TOUCH_STATUS
        ]
        if statuses:
            await conn.execute(
                update(touches)
                .where(touches.c.id == bindparam("b_id"))
                .values(status=bindparam("b_status")),
                statuses,
            )
        await decision_log.add_decisions(conn, log)
        transient = [o for o in outcomes if o.status is OutcomeStatus.FAILED and o.retryable]
        if transient and retry is not None:
            await _plan_retries(conn, transient, retry, now, playbook_version)
    return rejected


async def _plan_retries(
    conn: AsyncConnection,
    failed: Sequence[TouchOutcome],
    policy: TouchRetryPolicy,
    now: datetime,
    version: str,
) -> None:
    """A new planned touch per transient failure (``touch_retry``), or the end of the chain."""
    ids = {o.touch_id for o in failed if o.touch_id}
    wanted = ids | {origin_of(t)[0] for t in ids}
    found = await conn.execute(select(touches).where(touches.c.id.in_(sorted(wanted))))
    stored = {r["id"]: StoredTouch.from_row(r) for r in found.mappings().all()}
    planned = []
    logged: list[DecisionRecord] = []
    for touch_id in sorted(ids):
        row = stored.get(touch_id)
        if row is None:  # not a touch of ours (a test, another deployment): nothing to retry
            continue
        origin = stored.get(origin_of(touch_id)[0], row)
        first = origin.dispatched_at or row.dispatched_at or now
        step = policy.after_failure(touch_id, first, now)
        facts: dict[str, object] = {"channel": row.channel, "first_sent_at": first.isoformat()}
        if isinstance(step, Retry):
            planned.append({
                "contact_id": row.contact_id, "account_id": row.account_id,
                "channel": row.channel, "template_id": row.template_id, "stage": row.stage,
                "sequence_step": row.sequence_step, "id": step.touch_id,
                "status": touch_store.PLANNED, "reason": None, "due_at": step.due_at,
                "created_at": now,
            })  # fmt: skip
            facts |= {"retry_touch_id": step.touch_id, "attempt": step.attempt,
                      "due_at": step.due_at.isoformat()}  # fmt: skip
            kind, reason = TouchDecision.TOUCH_RETRY_PLANNED, LaterReason.PROVIDER_TRANSIENT.value
        else:
            kind, reason = TouchDecision.TOUCH_FAILED, step.reason.value
        logged.append(DecisionRecord(
            contact_id=row.contact_id, account_id=row.account_id, touch_id=touch_id, kind=kind,
            reason=reason, facts=facts, playbook_version=version, decided_at=now,
        ))  # fmt: skip
    await touch_store.add_touches(conn, planned)
    if logged:
        await decision_log.log_decisions(conn, logged)


async def _by_phone_owner(
    conn: AsyncConnection, outcomes: Iterable[TouchOutcome]
) -> list[TouchOutcome]:
    """SMS keywords arrive keyed by the sender's phone number (``+E.164``), not a contact id:
    each becomes one outcome per contact with that ``phone`` trait. A number nobody has stays
    keyed by itself (logged), so the keyword is still on record."""
    out: list[TouchOutcome] = []
    phones = {o.contact_id for o in outcomes if o.contact_id.startswith("+")}
    owners: dict[str, list[str]] = {}
    if phones:
        phone = contacts.c.traits["phone"].as_string()
        found = await conn.execute(
            select(phone, contacts.c.id).where(phone.in_(sorted(phones))).order_by(contacts.c.id)
        )
        for number, cid in found:
            owners.setdefault(number, []).append(cid)
    for o in outcomes:
        ids = owners.get(o.contact_id)
        if ids is None:
            if o.contact_id in phones:
                log.info("SMS %s from a number no contact has; kept under the number", o.status)
            out.append(o)
            continue
        out += [o.model_copy(update={"contact_id": cid}) for cid in ids]
    return out
