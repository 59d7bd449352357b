"""The stage KPIs of a simulated history, as ``GET /v1/funnel`` computes them live (the same pure
``funnel_metrics`` and ``lift_by_sequence``), so ``trellis simulate`` can show what a proposed
plan would change: conversion to the next stage, days in stage, and each sequence's lift over
its holdout; and from the revenue facts the handlers kept, as live: open pipeline per currency
(never summed across currencies), win rate, median sales cycle and NPS."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.domain.funnel import Move, funnel_metrics
from services.orchestrator.domain.kpis import deals_at, nps, pipeline, win_rate
from services.orchestrator.domain.lift import Member, exposures_of, lift_by_sequence
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.stages import Stage
from services.orchestrator.simulate_handoff_kpis import handoff_kpis

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
    out |= revenue_kpis(world, since, until)
    out |= handoff_kpis(world, until)  # with teams in the plan; time to value from the watches
    if plan is not None:
        people = {cid: Member(v.account_id, v.role) for cid, v in world.contacts.view_of.items()}
        exposures = exposures_of(moves, people, plan)
        for lift in lift_by_sequence(exposures, moves, since, until, LIFT_WINDOW):
            if lift.to_next.held_out.people:  # a sequence without a holdout measures nothing
                out[f"lift {lift.sequence} -> {lift.next_stage}"] = lift.to_next.value
    return out


def revenue_kpis(world: MemoryUnitOfWork, since: datetime, until: datetime) -> Kpis:
    facts = [f for _, _, f in sorted(world.revenue.stored, key=lambda s: s[:2]) if f.at < until]
    if not facts:
        return {}
    deals = list(deals_at(facts, until).values())
    won = win_rate(deals, since, until)
    pipe = pipeline(deals)
    overall, _, _ = nps(facts, since, until, lambda _contact, _at: None)
    out: Kpis = {
        "open deals": float(pipe.open_deals),
        "win rate": won.rate,
        "median sales cycle days": won.median_cycle_days,
        "NPS": overall.score,
    }
    for currency, amount in sorted(pipe.value.items()):
        out[f"open pipeline {currency}"] = float(amount)
    for currency, amount in sorted(pipe.weighted.items()):
        out[f"weighted pipeline {currency}"] = float(amount)
    return out
