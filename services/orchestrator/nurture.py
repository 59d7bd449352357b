"""Planning after a batch, in the batch's transaction: ``plan_for_changes`` is the one hook
``apply_engagement`` calls after its saves.

CRM owner changes set ``owner_rep`` (reps only); rule hits create deduplicated rep reminders
(``rep_reminders``); an ``exit_on`` event ends its sequence; then every contact whose stage or
consent changed gets its plan redone by the pure planner (``planning.replan``). Every decision
is in the decision log with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.events import EngagementEvent
from services.orchestrator import planning
from services.orchestrator.adapters import decision_log, touch_store
from services.orchestrator.domain.eligibility import SkipReason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.reminders import Signal, reminders_needed
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import Decision
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.people import Nurture, load_people, recipient_of, rep_for
from services.orchestrator.rep_reminders import (
    PRICING_LOOKBACK,
    create_reminders,
    is_pricing_view,
    owner_changes,
    pricing_viewers,
)

__all__ = [
    "PRICING_LOOKBACK",
    "Nurture",
    "is_pricing_view",
    "load_people",
    "plan_for_changes",
    "recipient_of",
    "rep_for",
]


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
    log: list[DecisionRecord] = []
    await owner_changes(conn, events, contact_of, account_of, now, log, nurture.reps)
    changed = {t.subject_key for t in decision.transitions if t.subject_kind == "contact"}
    signals = [
        Signal(e.id, contact_of[e.id], account_of.get(e.id), e.type, e.properties, e.time)
        for e in events
    ]
    pricing = await pricing_viewers(conn, signals, now, log)
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
    told = await create_reminders(conn, nurture, needs, people, accs, now, log)
    cause = {**dict(consent_changed), **_transition_events(decision)}
    recipients = {}
    for cid in sorted(changed | set(consent_changed)):
        person = people.get(cid)
        who = (
            recipient_of(person, accs.get(person.account_id or ""), nurture.config)
            if person
            else None
        )
        if who is not None:
            recipients[cid] = who
    ctx = planning.Context(nurture.config, now)
    await _exit_sequences(conn, nurture, signals, now, log)  # first: the more specific reason
    await planning.replan(conn, ctx, recipients, cause, told, log)
    if log:
        await decision_log.log_decisions(conn, log)


async def _exit_sequences(
    conn: AsyncConnection,
    nurture: Nurture,
    signals: Sequence[Signal],
    now: datetime,
    log: list[DecisionRecord],
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
                DecisionRecord(
                    contact_id=contact_id, account_id=account_id, touch_id=touch_id,
                    kind=TouchDecision.TOUCH_SKIPPED, reason=SkipReason.SEQUENCE_EXITED,
                    facts={"sequence": seq}, event_id=who[contact_id],
                    playbook_version=nurture.config.version or "nurture", decided_at=now,
                )
            )  # fmt: skip


def _transition_events(decision: Decision) -> dict[str, str | None]:
    """contact -> the event behind its last stage change in this batch."""
    return {t.subject_key: t.event_id for t in decision.transitions if t.subject_kind == "contact"}
