"""The revenue KPIs, segments and lift in the ``GET /v1/funnel`` answer (the rules of
``models`` apply). Every money figure is ``{currency: amount}``: currencies are never summed.
Each field's description is its definition (``kpi_definitions``)."""

from __future__ import annotations

from pydantic import Field

from services.orchestrator.ops.kpi_definitions import KPI_DEFINITIONS as D
from services.orchestrator.ops.models import Row

Money = dict[str, float]


class Pipeline(Row):
    open_deals: int = Field(description=D["open_pipeline"])
    unpriced_deals: int = Field(description="open deals with no amount (not in the value)")
    value: Money = Field(description=D["open_pipeline"])
    weighted: Money = Field(description=D["weighted_pipeline"])
    by_stage: dict[str, Money]
    stage_probability: dict[str, float]


class Deals(Row):
    closed: int
    won: int
    win_rate: float | None = Field(description=D["win_rate"])
    median_sales_cycle_days: float | None = Field(description=D["median_sales_cycle_days"])


class RetentionKpis(Row):
    customers_at_start: int
    churned: int
    churn_rate: float | None = Field(description=D["churn_rate"])
    revenue_at_start: Money
    revenue_at_end: Money
    nrr: dict[str, float] = Field(description=D["nrr"])
    customers_at_end: int


class Cltv(Row):
    value: Money = Field(description=D["cltv"])
    arpa: Money = Field(description="average revenue per customer account, for the window")
    gross_margin: float
    churn_rate: float | None
    note: str


class NpsScore(Row):
    score: float | None = Field(description=D["nps"])
    answers: int
    promoters: int
    detractors: int


class NpsKpis(NpsScore):
    by_stage: dict[str, NpsScore]
    by_account: dict[str, NpsScore]


class Revenue(Row):
    pipeline: Pipeline
    deals: Deals
    retention: RetentionKpis
    cltv: Cltv
    nps: NpsKpis


class LiftArm(Row):
    people: int
    converted: int
    rate: float | None


class LiftDifference(Row):
    """``difference`` and ``ci95`` are null below the minimum sample (``note`` says why)."""

    treated: LiftArm
    held_out: LiftArm
    difference: float | None
    ci95: list[float] | None
    lifts: bool = Field(description="the whole 95% interval is above zero")
    note: str


class SequenceLift(Row):
    sequence: str
    stage: str
    next_stage: str | None
    window_days: float
    to_next: LiftDifference = Field(description=D["lift"])
    goal: str | None
    to_goal: LiftDifference | None
