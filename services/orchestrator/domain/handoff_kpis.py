"""Handoff KPIs (pure, issue 23 item 5): how well each team and each owner takes the handoffs it
receives, and how soon new customers get value.

Definitions (``HANDOFF_KPI_DEFINITIONS`` says the same in words for the API and the dashboard).
Everything is read **as of** ``at``: a time stored after ``at`` has not happened yet, so a
window in the past reads the same tomorrow.

* **SLA attainment** = met / (met + missed). *Met*: the handoff's completing step (its
  ``completed_at``: the reminder acknowledged or a completing event) happened at or before its
  deadline. *Missed*: completed after the deadline, or still open at ``at`` with the deadline
  reached (``at >= deadline_at``, the instant the clock breaches it). *Pending* (open, deadline
  not reached) is left out of both: it can still go either way. None when nothing is decided.
* **Time to accept** (hours, wall clock): created -> ``accepted_at`` (the owner acknowledged the
  handoff); for an ``mql_accept`` without one, its completing event (a CRM owner change is sales
  accepting the lead).
* **Time to first contact** (hours): created -> ``first_contact_at`` (a meeting, call or kickoff
  at the account); for an ``sql_first_contact`` without one, its acknowledgement (the issue
  counts it as first contact). An ``mql_accept`` has no contact step: not counted.
  A handoff *superseded* by a later one (completed with neither time: the account moved on) has
  its verdict by its completion but no time to accept or to contact: nobody did either.
* **Leads never contacted**: ``sql_first_contact`` handoffs still open at ``at`` and past their
  deadline (a fresh lead is not "never" contacted yet; a superseded one became a deal).
* **Escalations**: handoffs escalated (``escalated_at``) by ``at``; per owner, the owner whose
  handoff went to the lead. **Breaches** likewise (``breached_at``).
* **Median time to first value per cohort** (closed-won month): ``domain.time_to_value``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from services.orchestrator.domain.handoffs import Handoff, HandoffKind
from services.orchestrator.domain.time_to_value import TimeToValue, median_days_by_cohort

HOUR = timedelta(hours=1)
NOBODY = "(no owner)"
"""The owner key of handoffs nobody could be given (a team without people)."""


def _by(value: datetime | None, at: datetime) -> datetime | None:
    """``value`` if it happened by ``at``, else None (not yet)."""
    return value if value is not None and value <= at else None


def completed(h: Handoff, at: datetime) -> datetime | None:
    return _by(h.completed_at, at)


def accepted(h: Handoff, at: datetime) -> datetime | None:
    """When the owner accepted the handoff (see the module's definition)."""
    if (when := _by(h.accepted_at, at)) is not None:
        return when
    return _by(h.first_contact_at, at) if h.kind is HandoffKind.MQL_ACCEPT else None


def contacted(h: Handoff, at: datetime) -> datetime | None:
    """When the owner first contacted the account (see the module's definition)."""
    if h.kind is HandoffKind.MQL_ACCEPT:
        return None
    if (when := _by(h.first_contact_at, at)) is not None:
        return when
    return _by(h.accepted_at, at) if h.kind is HandoffKind.SQL_FIRST_CONTACT else None


def verdict(h: Handoff, at: datetime) -> bool | None:
    """True: the SLA was met; False: missed; None: pending (open, deadline not reached)."""
    done = completed(h, at)
    if done is not None:
        return done <= h.deadline_at
    return False if at >= h.deadline_at else None


@dataclass(frozen=True, slots=True)
class HandoffKpis:
    """One team's or owner's figures over a set of handoffs."""

    handoffs: int
    met: int
    missed: int
    pending: int
    attainment: float | None
    median_hours_to_accept: float | None
    median_hours_to_first_contact: float | None
    never_contacted: int
    breaches: int
    escalations: int


def _median_hours(spans: Sequence[timedelta]) -> float | None:
    return round(median(s / HOUR for s in spans), 2) if spans else None


def handoff_kpis(handoffs: Iterable[Handoff], at: datetime) -> HandoffKpis:
    """The figures of ``handoffs`` as of ``at`` (the module docstring defines each)."""
    hs = list(handoffs)
    verdicts = [verdict(h, at) for h in hs]
    met, missed = verdicts.count(True), verdicts.count(False)
    to_accept = [a - h.created_at for h in hs if (a := accepted(h, at)) is not None]
    to_contact = [c - h.created_at for h in hs if (c := contacted(h, at)) is not None]
    never = sum(
        1 for h in hs
        if h.kind is HandoffKind.SQL_FIRST_CONTACT and completed(h, at) is None
        and at >= h.deadline_at
    )  # fmt: skip
    return HandoffKpis(
        handoffs=len(hs), met=met, missed=missed, pending=verdicts.count(None),
        attainment=round(met / (met + missed), 4) if met + missed else None,
        median_hours_to_accept=_median_hours(to_accept),
        median_hours_to_first_contact=_median_hours(to_contact), never_contacted=never,
        breaches=sum(1 for h in hs if _by(h.breached_at, at) is not None),
        escalations=sum(1 for h in hs if _by(h.escalated_at, at) is not None),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class HandoffReport:
    """The figures for all handoffs, per receiving team and per (team, owner)."""

    overall: HandoffKpis
    by_team: dict[str, HandoffKpis]
    by_owner: dict[tuple[str, str], HandoffKpis]


def handoff_report(handoffs: Iterable[Handoff], at: datetime) -> HandoffReport:
    """Handoffs made by ``at`` (later ones do not exist yet), grouped by team and owner."""
    hs = [h for h in handoffs if h.created_at <= at]
    teams: dict[str, list[Handoff]] = {}
    owners: dict[tuple[str, str], list[Handoff]] = {}
    for h in hs:
        teams.setdefault(h.team, []).append(h)
        owners.setdefault((h.team, h.owner or NOBODY), []).append(h)
    return HandoffReport(
        handoff_kpis(hs, at),
        {t: handoff_kpis(g, at) for t, g in sorted(teams.items())},
        {k: handoff_kpis(g, at) for k, g in sorted(owners.items())},
    )


@dataclass(frozen=True, slots=True)
class CohortValue:
    """One closed-won month: its customers, how many activated, and the median days to value."""

    accounts: int
    activated: int
    median_days_to_activation: float | None
    median_days_to_first_milestone: float | None


def time_to_value_by_cohort(values: Iterable[TimeToValue]) -> dict[str, CohortValue]:
    """Per closed-won month (``domain.time_to_value``'s medians), with the counts they rest on."""
    vs = list(values)
    activation = median_days_by_cohort(vs)
    milestone = median_days_by_cohort(vs, milestone=True)
    out: dict[str, CohortValue] = {}
    for cohort, days in activation.items():
        mine = [v for v in vs if v.cohort == cohort]
        got = sum(1 for v in mine if v.days_to_activation is not None)
        out[cohort] = CohortValue(len(mine), got, days, milestone[cohort])
    return out


HANDOFF_KPI_DEFINITIONS: dict[str, str] = {
    "attainment": "Of the handoffs decided by the end of the window, the share whose completing "
    "step (acknowledged, or a completing event) came by the deadline. Open past the deadline = "
    "missed; open before it = pending, left out.",
    "median_hours_to_accept": "Median wall-clock hours from the handoff to the owner's "
    "acknowledgement (an MQL: to its acceptance, a CRM owner change counting).",
    "median_hours_to_first_contact": "Median hours from the handoff to the first meeting, call "
    "or kickoff at the account (an SQL acknowledged counts as contacted); MQLs and handoffs "
    "superseded by a later one not counted.",
    "never_contacted": "SQL handoffs still open past their deadline (nobody acknowledged, met "
    "or called).",
    "breaches": "Handoffs whose deadline passed open (the owner reminded).",
    "escalations": "Handoffs escalated to the team lead (or the next person).",
    "time_to_value": "Per closed-won month: the median days from closed-won to "
    "product_activated and to the first usage_milestone, over the customers who got there.",
}
