"""The handoff KPIs of a simulated history, as ``GET /v1/funnel/handoffs`` computes them live
(the same pure ``domain.handoff_kpis``), so ``trellis simulate`` shows how a plan's teams and
SLAs would have fared: per team SLA attainment, median hours to accept and to first contact,
leads never contacted, breaches and escalations, attainment per owner, and per closed-won month
the median days to activation and to the first usage milestone."""

from __future__ import annotations

from datetime import datetime

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.domain.handoff_kpis import (
    HandoffKpis,
    handoff_report,
    time_to_value_by_cohort,
)
from services.orchestrator.domain.time_to_value import time_to_value

Kpis = dict[str, float | None]


def _figures(k: HandoffKpis, who: str) -> Kpis:
    return {
        f"handoffs {who}": float(k.handoffs),
        f"handoff SLA attainment {who}": k.attainment,
        f"handoff median hours to accept {who}": k.median_hours_to_accept,
        f"handoff median hours to first contact {who}": k.median_hours_to_first_contact,
        f"leads never contacted {who}": float(k.never_contacted),
        f"handoff breaches {who}": float(k.breaches),
        f"handoff escalations {who}": float(k.escalations),
    }


def handoff_kpis(world: MemoryUnitOfWork, until: datetime) -> Kpis:
    """Nothing when the plan handed nothing over (no teams); else the figures as of ``until``."""
    out: Kpis = {}
    report = handoff_report(world.handoffs.stored.values(), until)
    if report.overall.handoffs:
        for team, k in report.by_team.items():
            out |= _figures(k, team)
        for (team, owner), k in report.by_owner.items():
            out[f"handoff SLA attainment {team}/{owner}"] = k.attainment
    values = [v for w in world.value_watches.watches() if (v := time_to_value(w)) is not None]
    for cohort, c in time_to_value_by_cohort(values).items():
        out[f"median days to activation {cohort}"] = c.median_days_to_activation
        out[f"median days to first milestone {cohort}"] = c.median_days_to_first_milestone
    return out
