"""Plans after a change, through the unit of work: the pure planner's answer applied.

``replan`` runs for every contact whose stage or consent changed; ``cancel_unreachable`` when a
STOP, an unsubscribe, a complaint or a withdrawal arrives by any road (the outcomes topic, the
ops API); ``exit_sequences`` when an event a sequence lists in ``exit_on`` arrives. So what is
``planned`` is always what will be sent if nothing changes. Every change is a decision with its
reason and, where there is one, the event that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from services.orchestrator.application.unit_of_work import NewTouch, Revived, UnitOfWork
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.eligibility import PlannedTouch, Recipient, SkipReason
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.planner import (
    SKIPPED,
    Cancel,
    ContactPlan,
    ExistingTouch,
    PlanMemo,
    cancellations,
    plan_contact,
)
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.touch_log import PlanReason, TouchDecision

Log = list[DecisionRecord]


@dataclass(frozen=True)
class Context:
    """What a decision record needs besides the decision: the plan's version and the clock."""

    config: NurtureConfig
    now: datetime

    def row(
        self, kind: TouchDecision, reason: Reason, contact_id: str, account_id: str | None,
        touch_id: str | None, facts: Mapping[str, Any], event_id: str | None = None,
    ) -> DecisionRecord:  # fmt: skip
        return DecisionRecord(
            contact_id=contact_id, account_id=account_id, touch_id=touch_id, kind=kind,
            reason=reason, facts=facts, event_id=event_id,
            playbook_version=self.config.version or "nurture", decided_at=self.now,
        )  # fmt: skip


async def ledgers_for(
    uow: UnitOfWork, contact_ids: Iterable[str], config: NurtureConfig
) -> dict[str, ConsentLedger]:
    loaded = await uow.consent.ledgers(contact_ids)
    return {c: replace(ledger, bases=config.legal_basis) for c, ledger in loaded.items()}


async def replan(
    uow: UnitOfWork,
    ctx: Context,
    recipients: Mapping[str, Recipient],
    cause: Mapping[str, str | None],
    skip_calls: set[str],
    log: Log,
    existing: Mapping[str, Sequence[ExistingTouch]] | None = None,
) -> None:
    """Plan each recipient's current stage (``plan_contact``) and apply it. ``cause``: the
    event behind each contact's change; ``skip_calls``: contacts whose rep a rule's reminder is
    calling already (no second call touch); ``existing``: the recipients' stored touches as
    read in this unit of work (``uow.touches.existing``), else read here."""
    if existing is None:
        existing = await uow.touches.existing(recipients)
    ledgers = await ledgers_for(uow, recipients, ctx.config)
    created: list[NewTouch] = []
    revived: list[Revived] = []
    cancels: list[tuple[Cancel, str, str | None]] = []
    memo = PlanMemo(ctx.config)  # what the contacts share: sequences, windows, openings
    for cid, who in sorted(recipients.items()):
        plan = plan_contact(ctx.config, who, ledgers[cid], existing.get(cid, []), ctx.now, memo)
        plan = _without_calls(plan) if cid in skip_calls else plan
        event = cause.get(cid)
        created += [_new(p) for p in plan.create]
        revived += [Revived(p.touch_id, p.stage.value, p.due_at) for p in plan.revive]
        for p in (*plan.create, *plan.revive):
            log.append(ctx.row(TouchDecision.TOUCH_PLANNED, PlanReason.STAGE_ENTERED, cid,
                               p.account_id, p.touch_id, _facts(p), event))  # fmt: skip
        cancels += [(c, cid, who.account_id) for c in plan.cancel]
        for n in plan.not_planned:
            facts = {"sequence": n.sequence_id, "step": n.step_id, "channel": n.channel.value,
                     "template": n.template, **n.facts}  # fmt: skip
            log.append(ctx.row(TouchDecision.TOUCH_NOT_PLANNED, n.reason, cid, n.account_id,
                               None, facts, event))  # fmt: skip
    await uow.touches.add(created, ctx.now)
    await uow.touches.revive(revived)
    await _cancel(uow, ctx, cancels, cause, log)


async def cancel_unreachable(
    uow: UnitOfWork,
    ctx: Context,
    cause: Mapping[str, str | None],
    account_of: Mapping[str, str | None],
    log: Log,
) -> None:
    """Cancel the planned touches of these contacts on channels they can no longer be reached
    on (a STOP, an unsubscribe, a complaint, a withdrawal), logged with the event."""
    existing = await uow.touches.existing(cause)
    ledgers = await ledgers_for(uow, cause, ctx.config)
    cancels = [
        (c, cid, account_of.get(cid))
        for cid in sorted(cause)
        for c in cancellations(existing.get(cid, []), ledgers[cid], ctx.now)
    ]
    await _cancel(uow, ctx, cancels, cause, log)


async def exit_sequences(
    uow: UnitOfWork,
    ctx: Context,
    exits: Sequence[tuple[str, str, str]],
    log: Log,
    existing: MutableMapping[str, list[ExistingTouch]] | None = None,
) -> None:
    """``exits``: (event type, contact, event id). An event a sequence lists in ``exit_on`` (a
    demo request ends the education emails) skips the contact's planned touches of that
    sequence, including any planned just now. ``existing``: the stored touches of the exiting
    contacts (``uow.touches.existing``, in this unit of work): a sequence none of them has a
    planned touch of is not asked of the store, and what is skipped is marked so in it."""
    ended: dict[str, dict[str, str]] = {}  # sequence -> contact -> event id
    ends = _Ends(ctx.config)
    for kind, contact_id, event_id in exits:
        for seq in ends(kind):
            ended.setdefault(seq, {}).setdefault(contact_id, event_id)
    reason = SkipReason.SEQUENCE_EXITED
    for seq, who in sorted(ended.items()):
        if existing is not None and not _may_plan(existing, who, seq):
            continue  # the statement would skip nothing
        skipped = await uow.touches.skip_sequence(seq, sorted(who), reason)
        for touch_id, cid, aid in skipped:
            log.append(ctx.row(TouchDecision.TOUCH_SKIPPED, reason, cid, aid, touch_id,
                               {"sequence": seq}, who[cid]))  # fmt: skip
        if existing is not None:
            _mark_skipped(existing, skipped, reason)


def exiting(config: NurtureConfig, exits: Iterable[tuple[str, str, str]]) -> set[str]:
    """The contacts of ``exits`` whose event ends a sequence (``exit_sequences``)."""
    ends = _Ends(config)
    return {contact_id for kind, contact_id, _ in exits if ends(kind)}


class _Ends:
    """``config.exited_by``, asked once per event type."""

    def __init__(self, config: NurtureConfig) -> None:
        self.config = config
        self.known: dict[str, frozenset[str]] = {}

    def __call__(self, kind: str) -> frozenset[str]:
        if (sequences := self.known.get(kind)) is None:
            sequences = self.known[kind] = self.config.exited_by(kind)
        return sequences


def _may_plan(
    existing: Mapping[str, Sequence[ExistingTouch]], who: Iterable[str], seq: str
) -> bool:
    """Whether one of ``who`` may have a planned touch whose stored ``sequence_step`` starts with
    ``<seq>/`` (as ``skip_sequence`` matches it): yes for a contact not in ``existing``, and
    case-blind, as SQLite's LIKE is (a wrong yes only costs the statement)."""
    prefix = f"{seq}/".lower()
    for cid in who:
        touches = existing.get(cid)
        if touches is None:
            return True
        for t in touches:  # "<sequence>/<step>" as stored when it held a "/" (else no match)
            if t.is_planned and f"{t.sequence_id}/{t.step_id}".lower().startswith(prefix):
                return True
    return False


def _mark_skipped(
    existing: MutableMapping[str, list[ExistingTouch]],
    skipped: Iterable[tuple[str, str, str | None]],
    reason: SkipReason,
) -> None:
    """``existing`` as the store holds it after ``skip_sequence`` skipped these touches."""
    for touch_id, cid, _ in skipped:
        touches = existing.get(cid)
        if touches is not None:
            existing[cid] = [
                replace(t, status=SKIPPED, reason=reason.value) if t.touch_id == touch_id else t
                for t in touches
            ]


def _without_calls(plan: ContactPlan) -> ContactPlan:
    keep = [p for p in plan.create if p.channel is not TouchChannel.REP_CALL_REMINDER]
    again = [p for p in plan.revive if p.channel is not TouchChannel.REP_CALL_REMINDER]
    return replace(plan, create=tuple(keep), revive=tuple(again))


async def _cancel(
    uow: UnitOfWork,
    ctx: Context,
    cancels: list[tuple[Cancel, str, str | None]],
    cause: Mapping[str, str | None],
    log: Log,
) -> None:
    if not cancels:
        return
    await uow.touches.cancel([(c.touch_id, c.reason.value) for c, _, _ in cancels])
    for c, cid, aid in cancels:
        log.append(ctx.row(TouchDecision.TOUCH_SKIPPED, c.reason, cid, aid, c.touch_id,
                           {"channel": c.channel.value}, cause.get(cid)))  # fmt: skip


def _new(p: PlannedTouch) -> NewTouch:
    return NewTouch(p.touch_id, p.contact_id, p.account_id, p.channel, p.template,
                    p.stage.value, f"{p.sequence_id}/{p.step_id}", p.due_at)  # fmt: skip


def _facts(p: PlannedTouch) -> dict[str, str]:
    return {"sequence": p.sequence_id, "step": p.step_id, "channel": p.channel.value,
            "template": p.template, "due_at": p.due_at.isoformat()}  # fmt: skip
