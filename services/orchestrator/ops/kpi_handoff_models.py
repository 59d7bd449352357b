"""The ``GET /v1/funnel/handoffs`` answer (the rules of ``models`` apply); each field's
description is its definition (``domain.handoff_kpis.HANDOFF_KPI_DEFINITIONS``)."""

from __future__ import annotations

from pydantic import Field

from services.orchestrator.domain.handoff_kpis import HANDOFF_KPI_DEFINITIONS as D
from services.orchestrator.ops.models import Row, Time


class HandoffFigures(Row):
    handoffs: int = Field(description="handoffs made inside the window")
    met: int
    missed: int
    pending: int = Field(description="open, deadline not reached: in no share")
    attainment: float | None = Field(description=D["attainment"])
    median_hours_to_accept: float | None = Field(description=D["median_hours_to_accept"])
    median_hours_to_first_contact: float | None = Field(
        description=D["median_hours_to_first_contact"]
    )
    never_contacted: int = Field(description=D["never_contacted"])
    breaches: int = Field(description=D["breaches"])
    escalations: int = Field(description=D["escalations"])


class TeamFigures(HandoffFigures):
    team: str


class OwnerFigures(HandoffFigures):
    team: str
    owner: str = Field(description="the owner's email; '(no owner)' for a team without people")


class CohortFigures(Row):
    cohort: str = Field(description="closed-won month, YYYY-MM (UTC)")
    accounts: int
    activated: int
    median_days_to_activation: float | None = Field(description=D["time_to_value"])
    median_days_to_first_milestone: float | None = Field(description=D["time_to_value"])


class HandoffKpis(Row):
    """Handoff KPIs of the handoffs made inside the window, as of its end, overall, per
    receiving team and per owner; time to first value of the customers won inside it."""

    since: Time
    until: Time
    overall: HandoffFigures
    teams: list[TeamFigures]
    owners: list[OwnerFigures]
    time_to_value: list[CohortFigures]
    definitions: dict[str, str]
