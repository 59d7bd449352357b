"""Applying the pure planner's decisions to the touches table, in the caller's transaction.

``replan`` runs after a batch for every contact whose stage or consent changed;
``cancel_unreachable`` runs when a STOP, an unsubscribe, a complaint or a withdrawal arrives by
any road (the outcomes topic, the ops API), so that what is ``planned`` is always what will be
sent if nothing changes. Every change is a decision with its reason and, where there is one,
the event that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import consent_store, touch_store
from services.orchestrator.adapters.tables import touches
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.eligibility import PlannedTouch, Recipient
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.planner import (
    Cancel,
    ContactPlan,
    ExistingTouch,
    cancellations,
    plan_contact,
)
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import PlanReason, TouchDecision

Log = list[DecisionRecord]


@dataclass(frozen=True)
class Context:
    """What a decision record needs besides the decision: the plan's version and the clock."""

    config: NurtureConfig
    now: datetime

    def row(
        self, kind: TouchDecision, reason: str, contact_id: str, account_id: str | None,
        touch_id: str | None, facts: Mapping[str, Any], event_id: str | None = None,
    ) -> DecisionRecord:  # fmt: skip
        return DecisionRecord(
            contact_id=contact_id, account_id=account_id, touch_id=touch_id, kind=kind,
            reason=reason, facts=facts, event_id=event_id,
            playbook_version=self.config.version or "nurture", decided_at=self.now,
        )  # fmt: skip


async def existing_touches(
    conn: AsyncConnection, contact_ids: Iterable[str]
) -> dict[str, list[ExistingTouch]]:
    wanted = sorted(set(contact_ids))
    out: dict[str, list[ExistingTouch]] = {c: [] for c in wanted}
    if not wanted:
        return out
    rows = await conn.execute(
        select(
            touches.c.id, touches.c.contact_id, touches.c.sequence_step, touches.c.stage,
            touches.c.channel, touches.c.status, touches.c.reason,
        ).where(touches.c.contact_id.in_(wanted))
    )  # fmt: skip
    for r in rows:
        sequence, _, step = (r.sequence_step or "").partition("/")
        stage = Stage(r.stage) if r.stage in Stage._value2member_map_ else None
        out[r.contact_id].append(
            ExistingTouch(r.id, sequence, step, stage, TouchChannel(r.channel), r.status, r.reason)
        )
    return out


async def ledgers_for(
    conn: AsyncConnection, contact_ids: Iterable[str], config: NurtureConfig
) -> dict[str, ConsentLedger]:
    loaded = await consent_store.load(conn, contact_ids)
    return {c: replace(ledger, bases=config.legal_basis) for c, ledger in loaded.items()}


async def replan(
    conn: AsyncConnection,
    ctx: Context,
    recipients: Mapping[str, Recipient],
    cause: Mapping[str, str | None],
    skip_calls: set[str],
    log: Log,
) -> None:
    """Plan each recipient's current stage (``plan_contact``) and apply it. ``cause``: the
    event behind each contact's change; ``skip_calls``: contacts whose rep a rule's reminder is
    calling already (no second call touch)."""
    existing = await existing_touches(conn, recipients)
    ledgers = await ledgers_for(conn, recipients, ctx.config)
    rows = []
    revived: list[PlannedTouch] = []
    cancels: list[tuple[Cancel, str, str | None]] = []
    for cid, who in sorted(recipients.items()):
        plan = plan_contact(ctx.config, who, ledgers[cid], existing[cid], ctx.now)
        plan = _without_calls(plan) if cid in skip_calls else plan
        event = cause.get(cid)
        for p in plan.create:
            rows.append(touch_store.planned_row(
                p.touch_id, p.contact_id, p.account_id, p.channel.value, p.template, p.stage.value,
                f"{p.sequence_id}/{p.step_id}", p.due_at, ctx.now,
            ))  # fmt: skip
        revived += plan.revive
        for p in (*plan.create, *plan.revive):
            log.append(ctx.row(TouchDecision.TOUCH_PLANNED, PlanReason.STAGE_ENTERED, cid,
                               p.account_id, p.touch_id, _facts(p), event))  # fmt: skip
        cancels += [(c, cid, who.account_id) for c in plan.cancel]
        for n in plan.not_planned:
            facts = {"sequence": n.sequence_id, "step": n.step_id, "channel": n.channel.value,
                     "template": n.template, **n.facts}  # fmt: skip
            log.append(ctx.row(TouchDecision.TOUCH_NOT_PLANNED, n.reason, cid, n.account_id,
                               None, facts, event))  # fmt: skip
    await touch_store.add_touches(conn, rows)
    await _revive(conn, revived)
    await _cancel(conn, ctx, cancels, cause, log)


async def cancel_unreachable(
    conn: AsyncConnection,
    ctx: Context,
    cause: Mapping[str, str | None],
    account_of: Mapping[str, str | None],
    log: Log,
) -> None:
    """Cancel the planned touches of these contacts on channels they can no longer be reached
    on (a STOP, an unsubscribe, a complaint, a withdrawal), logged with the event."""
    existing = await existing_touches(conn, cause)
    ledgers = await ledgers_for(conn, cause, ctx.config)
    cancels = [
        (c, cid, account_of.get(cid))
        for cid in sorted(cause)
        for c in cancellations(existing[cid], ledgers[cid], ctx.now)
    ]
    await _cancel(conn, ctx, cancels, cause, log)


def _without_calls(plan: ContactPlan) -> ContactPlan:
    keep = [p for p in plan.create if p.channel is not TouchChannel.REP_CALL_REMINDER]
    again = [p for p in plan.revive if p.channel is not TouchChannel.REP_CALL_REMINDER]
    return replace(plan, create=tuple(keep), revive=tuple(again))


async def _revive(conn: AsyncConnection, revived: list[PlannedTouch]) -> None:
    if not revived:
        return
    await conn.execute(
        update(touches)
        .where(touches.c.id == bindparam("b_id"), touches.c.status == touch_store.SKIPPED)
        .values(status=touch_store.PLANNED, reason=None, claimed_by=None,
                due_at=bindparam("b_due"), stage=bindparam("b_stage")),
        [{"b_id": p.touch_id, "b_due": p.due_at, "b_stage": p.stage.value} for p in revived],
    )  # fmt: skip


async def _cancel(
    conn: AsyncConnection,
    ctx: Context,
    cancels: list[tuple[Cancel, str, str | None]],
    cause: Mapping[str, str | None],
    log: Log,
) -> None:
    if not cancels:
        return
    await conn.execute(
        update(touches)
        .where(touches.c.id == bindparam("b_id"), touches.c.status == touch_store.PLANNED)
        .values(status=touch_store.SKIPPED, reason=bindparam("b_reason"), claimed_by=None),
        [{"b_id": c.touch_id, "b_reason": c.reason.value} for c, _, _ in cancels],
    )
    for c, cid, aid in cancels:
        log.append(ctx.row(TouchDecision.TOUCH_SKIPPED, c.reason, cid, aid, c.touch_id,
                           {"channel": c.channel.value}, cause.get(cid)))  # fmt: skip


def _facts(p: PlannedTouch) -> dict[str, str]:
    return {"sequence": p.sequence_id, "step": p.step_id, "channel": p.channel.value,
            "template": p.template, "due_at": p.due_at.isoformat()}  # fmt: skip
