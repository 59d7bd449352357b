"""The stage KPIs of a simulated history, as ``GET /v1/funnel`` computes them live (the same pure
``funnel_metrics`` and ``lift_by_sequence``), so ``trellis simulate`` can show what a proposed
plan would change: conversion to the next stage, days in stage, and each sequence's lift over
its holdout. Revenue KPIs need the deal facts live keeps; a simulation does not compute them."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.domain.funnel import Move, funnel_metrics
from services.orchestrator.domain.lift import Member, exposures_of, lift_by_sequence
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.stages import Stage

LIFT_WINDOW = timedelta(days=30)
Kpis = dict[str, float | None]


def stage_kpis(world: MemoryUnitOfWork, plan: NurtureConfig | None, until: datetime) -> Kpis:
    """``conversion <a> -> <b>`` (share of those who entered ``a``), ``median days in <s>`` and,
    with a plan, ``lift <sequence> -> <next stage>`` (treated minus held-out, None when there is
    not enough data) over the whole history."""
    moves = [
        Move(t.subject_key, Stage(t.to_stage), t.occurred_at, n)
        for n, (t, _) in enumerate(world.contacts.history)
        if t.subject_kind == "contact" and t.to_stage is not None
    ]
    if not moves:
        return {}
    since = min(m.at for m in moves)
    metrics = funnel_metrics(moves, since, max(until, since + timedelta(seconds=1)))
    out: Kpis = {}
    for c in metrics.conversions:
        if c.entered:
            out[f"conversion {c.from_stage} -> {c.to_stage}"] = c.rate
    for stage, days in metrics.median_days_in_stage.items():
        if days is not None:
            out[f"median days in {stage}"] = days
    if plan is not None:
        people = {cid: Member(v.account_id, v.role) for cid, v in world.contacts.view_of.items()}
        exposures = exposures_of(moves, people, plan)
        for lift in lift_by_sequence(exposures, moves, since, until, LIFT_WINDOW):
            if lift.to_next.held_out.people:  # a sequence without a holdout measures nothing
                out[f"lift {lift.sequence} -> {lift.next_stage}"] = lift.to_next.value
    return out
