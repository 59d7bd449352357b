"""Ops API answers that are not table rows: a timeline, the "why", the funnel, a reminder link,
source credentials, health. The rules of ``models`` apply (see there)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from services.orchestrator.ops.kpi_definitions import KPI_DEFINITIONS
from services.orchestrator.ops.kpi_models import Revenue, SequenceLift
from services.orchestrator.ops.models import ChannelConsent, Open, Reminder, Row, Time, Touch


class TimelineDecision(Row):
    at: Time
    type: Literal["decision"]
    kind: str
    reason: str
    touch_id: str | None
    event_id: str | None
    facts: Open


class LateMark(Row):
    """An event accepted but too late to change the stage: more than ``window_days`` older than
    the newest event already applied (``compared_with``)."""

    reason: str
    window_days: float | None
    compared_with: Time | None
    decided_at: Time


class TimelineEvent(Row):
    at: Time
    type: Literal["event"]
    kind: str = Field(description="the event type")
    event_id: str
    properties: Open
    late: LateMark | None = Field(default=None, description="set when it changed no stage")


class Timeline(Row):
    contact_id: str
    items: list[Annotated[TimelineDecision | TimelineEvent, Field(discriminator="type")]]


class WhyDecision(Row):
    kind: str
    reason: str
    facts: Open
    decided_at: Time


class Why(Row):
    """``answer`` in plain words; ``sent`` is null while undecided."""

    contact_id: str
    stage: str | None
    account_stage: str | None
    consent: dict[str, ChannelConsent]
    sent: bool | None
    touch_id: str | None
    answer: str
    decision: WhyDecision | None
    touch: Touch | None


class Conversion(Row):
    from_stage: str = Field(alias="from")
    to: str
    entered: int
    converted: int
    rate: float | None


class Velocity(Row):
    forward_moves_per_day: float | None
    median_days_to_reach: dict[str, float | None]


class FunnelMetrics(Row):
    in_stage: dict[str, int] = Field(description=KPI_DEFINITIONS["in_stage"])
    entered: dict[str, int] = Field(description=KPI_DEFINITIONS["entered"])
    conversion: list[Conversion] = Field(description=KPI_DEFINITIONS["conversion"])
    median_days_in_stage: dict[str, float | None] = Field(
        description=KPI_DEFINITIONS["median_days_in_stage"]
    )
    p90_days_in_stage: dict[str, float | None] = Field(
        description=KPI_DEFINITIONS["p90_days_in_stage"]
    )
    velocity: Velocity = Field(description=KPI_DEFINITIONS["velocity"])


class SegmentKpis(Row):
    value: str
    contacts: FunnelMetrics
    accounts: FunnelMetrics
    revenue: Revenue


class Segments(Row):
    by: str
    items: list[SegmentKpis]


DATA_QUALITY = {
    "late_events": "Events accepted inside the window that came too late to change the stage "
    "(more than allowed_lateness_days older than the newest event already applied to the "
    "contact): kept on the contact's timeline, not in the funnel's moves.",
    "duplicate_events": "Events accepted inside the window that had been applied already (the "
    "same event id): applied once.",
}
"""What the funnel's data-quality figures count (``activity.data_quality``)."""


class DataQuality(Row):
    late_events: int = Field(description=DATA_QUALITY["late_events"])
    duplicate_events: int = Field(description=DATA_QUALITY["duplicate_events"])


class Funnel(Row):
    """Stage KPIs of contacts and accounts, the revenue KPIs, each sequence's lift over its
    holdout and (with ``segment``) all of it per segment; ``definitions`` says what each is."""

    since: Time
    until: Time
    account_id: str | None
    contacts: FunnelMetrics
    accounts: FunnelMetrics
    revenue: Revenue
    lift: list[SequenceLift]
    segments: Segments | None
    data_quality: DataQuality
    definitions: dict[str, str]


class Confirm(Row):
    method: Literal["POST"]
    url: str


class ReminderLinkView(Row):
    """What a reminder link will do (JSON when the client does not ask for HTML)."""

    reminder: Reminder
    action: str
    confirm: Confirm


class SourceView(Row):
    id: str
    name: str
    kind: str
    auth: str
    disabled: bool
    rate_limit_per_s: int | None
    active_secrets: int | None = Field(default=None, description="signed sources only")
    webhook_url_path: str | None = Field(default=None, description="signed sources only")


class IssuedSource(Row):
    """A new credential: in this answer only, never again."""

    source: SourceView
    write_key: str | None = Field(default=None, description="write-key sources")
    webhook_secret: str | None = Field(default=None, description="signed sources")
    shown_once: bool


class Health(Row):
    status: Literal["ok"]
