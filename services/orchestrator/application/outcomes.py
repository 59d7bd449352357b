"""``handle_outcomes``: delivery outcomes from the notifier and provider callbacks, applied once.

Suppressions (unsubscribe, STOP, hard bounce, complaint) and SMS START/confirmations enter the
consent ledger in the same unit of work as the inbox claim; what is planned on a channel the
recipient just closed is cancelled at once; touch statuses follow the outcomes; a transient
failure plans a retry (``touch_retry``) or ends the chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.orchestrator.application import planning
from services.orchestrator.application.unit_of_work import InboxEntry, NewTouch, UnitOfWork
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import LedgerRow, Suppression
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.outcomes import consent_for, suppression_for
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.domain.state import LogEntry
from services.orchestrator.domain.touch_log import LaterReason, TouchDecision
from services.orchestrator.domain.touch_retry import Retry, TouchRetryPolicy, origin_of

TOUCH_STATUS = {
    OutcomeStatus.SENT: "sent",
    OutcomeStatus.DELIVERED: "delivered",
    OutcomeStatus.FAILED: "failed",
    OutcomeStatus.BOUNCED: "bounced",
    OutcomeStatus.COMPLAINED: "complained",
}
Received = tuple[InboxEntry, TouchOutcome]


async def handle_outcomes(
    uow: UnitOfWork,
    received: Sequence[Received],
    config: NurtureConfig,
    version: str,
    now: datetime,
    retry: TouchRetryPolicy | None = None,
) -> list[TouchOutcome]:
    """Apply the fresh outcomes; returns them, one per contact a phone number names.
    ``retry``: the policy for transient failures (none: a failure is final)."""
    fresh = await uow.inbox.claim([entry for entry, _ in received], now)
    inbox_of = {o.id: entry.event_id for entry, o in received}
    claimed = {o.id: o for entry, o in received if entry.event_id in fresh}.values()
    outcomes = await _by_phone_owner(uow, claimed)
    rows: list[LedgerRow] = []
    for o in outcomes:
        for item in (suppression_for(o), consent_for(o)):
            if item is not None:
                rows.append(LedgerRow(item, inbox_of[o.id]))
    written = await uow.consent.record(rows)
    blocked = {r.item.contact_id: r.event_id for r in written if isinstance(r.item, Suppression)}
    cancelled: list[DecisionRecord] = []
    if blocked:  # what is planned on a channel the recipient just closed is cancelled now
        ctx = planning.Context(config, now)
        await planning.cancel_unreachable(uow, ctx, blocked, {}, cancelled)
    await uow.decisions.log(cancelled)
    await uow.touches.set_statuses(
        {
            o.touch_id: TOUCH_STATUS[o.status]
            for o in outcomes
            if o.touch_id and o.status in TOUCH_STATUS
        }
    )
    await uow.decisions.log_entries([_entry(o, inbox_of[o.id], version, now) for o in outcomes])
    transient = [o for o in outcomes if o.status is OutcomeStatus.FAILED and o.retryable]
    if transient and retry is not None:
        await _plan_retries(uow, transient, retry, now, version)
    return list(outcomes)


def _entry(o: TouchOutcome, event_id: str, version: str, now: datetime) -> LogEntry:
    suppression = suppression_for(o)
    changed = suppression is not None or consent_for(o) is not None
    return LogEntry(
        kind=DecisionKind.CONSENT_CHANGED if changed else DecisionKind.TOUCH_OUTCOME,
        reason=suppression.kind.value if suppression else o.status.value,
        contact_key=o.contact_id, account_key=None, event_id=event_id,
        facts={"touch_id": o.touch_id, "channel": o.channel.value, "detail": o.detail,
               "provider_id": o.provider_id},
        playbook_version=version, decided_at=now,
    )  # fmt: skip


async def _plan_retries(
    uow: UnitOfWork,
    failed: Sequence[TouchOutcome],
    policy: TouchRetryPolicy,
    now: datetime,
    version: str,
) -> None:
    """A new planned touch per transient failure (``touch_retry``), or the end of the chain."""
    ids = {o.touch_id for o in failed if o.touch_id}
    stored = await uow.touches.by_ids(ids | {origin_of(t)[0] for t in ids})
    planned: list[NewTouch] = []
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
            planned.append(NewTouch(step.touch_id, row.contact_id, row.account_id,
                                    TouchChannel(row.channel), row.template_id, row.stage,
                                    row.sequence_step or "", step.due_at))  # fmt: skip
            facts |= {"retry_touch_id": step.touch_id, "attempt": step.attempt,
                      "due_at": step.due_at.isoformat()}  # fmt: skip
            kind, reason = TouchDecision.TOUCH_RETRY_PLANNED, LaterReason.PROVIDER_TRANSIENT
        else:
            kind, reason = TouchDecision.TOUCH_FAILED, step.reason
        logged.append(DecisionRecord(
            contact_id=row.contact_id, account_id=row.account_id, touch_id=touch_id, kind=kind,
            reason=reason, facts=facts, playbook_version=version, decided_at=now,
        ))  # fmt: skip
    await uow.touches.add(planned, now)
    await uow.decisions.log(logged)


async def _by_phone_owner(uow: UnitOfWork, outcomes: Iterable[TouchOutcome]) -> list[TouchOutcome]:
    """SMS keywords arrive keyed by the sender's phone number (``+E.164``), not a contact id:
    each becomes one outcome per contact with that ``phone`` trait. A number nobody has stays
    keyed by itself, so the keyword is still on record."""
    phones = {o.contact_id for o in outcomes if o.contact_id.startswith("+")}
    owners = await uow.contacts.by_phone(phones) if phones else {}
    out: list[TouchOutcome] = []
    for o in outcomes:
        ids = owners.get(o.contact_id)
        out += [o.model_copy(update={"contact_id": c}) for c in ids] if ids else [o]
    return out
