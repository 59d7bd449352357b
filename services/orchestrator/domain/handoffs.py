"""Handoffs between teams (pure): who owns which stage, when a handoff is due, and its clock.

The funnel is owned by teams (default: marketing for awareness..mql, sales for sql..opportunity,
success for onboarding..advocate). An **account** entering one of the handoff stages (mql, sql,
onboarding) while the team that owned the stage it left is another one gets one handoff for the
receiving team's owner: accounts, not contacts, because ownership, the deal and the buying
committee are the account's, and one stakeholder's move must not hand the same account over
once per colleague. Each handoff has a deadline in the owner's working hours (the SLA); a breach
reminds the owner once, then (``escalate_after`` working hours later) escalates to the team lead
once, or to the next person in the team when the owner is the lead.

Time is an argument; nothing here reads a clock, a table or the broker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.orchestrator.domain.quiet_hours import SendWindow
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import stable_id

MARKETING, SALES, SUCCESS = "marketing", "sales", "success"

DEFAULT_STAGE_TEAMS: Mapping[Stage, str] = {
    Stage.AWARENESS: MARKETING, Stage.ENGAGED: MARKETING, Stage.MQL: MARKETING,
    Stage.SQL: SALES, Stage.OPPORTUNITY: SALES,
    Stage.ONBOARDING: SUCCESS, Stage.RETAINED: SUCCESS, Stage.EXPANSION: SUCCESS,
    Stage.ADVOCATE: SUCCESS,
}  # fmt: skip


class HandoffKind(StrEnum):
    MQL_ACCEPT = "mql_accept"
    """Marketing hands a qualified lead to sales, who accept it."""
    SQL_FIRST_CONTACT = "sql_first_contact"
    """Sales makes first contact with a sales-qualified account."""
    CSM_KICKOFF = "csm_kickoff"
    """Closed-won: the customer success manager runs the kickoff."""


ENTRY_KIND: Mapping[Stage, HandoffKind] = {
    Stage.MQL: HandoffKind.MQL_ACCEPT,
    Stage.SQL: HandoffKind.SQL_FIRST_CONTACT,
    Stage.ONBOARDING: HandoffKind.CSM_KICKOFF,
}
RECEIVING_STAGE: Mapping[HandoffKind, Stage] = {
    HandoffKind.MQL_ACCEPT: Stage.SQL,  # the MQL is handed to whoever owns SQL
    HandoffKind.SQL_FIRST_CONTACT: Stage.SQL,
    HandoffKind.CSM_KICKOFF: Stage.ONBOARDING,
}


class HandoffStep(StrEnum):
    BREACH_REMINDER = "breach_reminder"
    """The deadline passed: the owner is reminded once."""
    ESCALATION = "escalation"
    """Still nothing ``escalate_after`` later: the team lead (or the next person) is told once."""


class TeamMember(BaseModel):
    """One person of a team (keyed by email): reminders fall in their working hours."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = None
    channel: Literal["email", "slack", "webhook"] | None = None
    crm_id: str | None = Field(default=None, min_length=1, max_length=200)
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,20}$")
    capacity: int | None = Field(default=None, ge=0, le=100_000)
    """At most this many owned accounts before the round-robin passes them by (None: no cap)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            ZoneInfo(name)
        return name


class TeamConfig(BaseModel):
    """A team: its people in round-robin order and its lead (one of them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lead: str | None = None
    members: dict[str, TeamMember] = Field(default_factory=dict)

    @field_validator("members")
    @classmethod
    def _lowercase(cls, members: dict[str, TeamMember]) -> dict[str, TeamMember]:
        return {email.strip().lower(): m for email, m in members.items()}

    @model_validator(mode="after")
    def _lead_is_member(self) -> Self:
        if self.lead is not None:
            object.__setattr__(self, "lead", self.lead.strip().lower())
            if self.lead not in self.members:
                raise ValueError(f"team lead {self.lead} is not one of the team's members")
        return self


class HandoffSla(BaseModel):
    """One kind's clock: due within ``business_days`` + ``business_hours`` of working time (a
    business day is one working window's length), escalated ``escalate_after_hours`` of
    working time after a breach; done by acknowledging its reminder or one of ``completed_by``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    business_days: float = Field(default=0, ge=0, le=60)
    business_hours: float = Field(default=0, ge=0, le=480)
    escalate_after_hours: float = Field(default=4, ge=0, le=480)
    completed_by: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _some_time(self) -> Self:
        if self.business_days == 0 and self.business_hours == 0:
            raise ValueError("a handoff SLA needs business_days or business_hours")
        return self


DEFAULT_SLAS: Mapping[HandoffKind, HandoffSla] = {
    HandoffKind.MQL_ACCEPT: HandoffSla(business_days=1, completed_by=("crm_owner_changed",)),
    HandoffKind.SQL_FIRST_CONTACT: HandoffSla(
        business_hours=4, completed_by=("meeting_booked", "call_logged")
    ),
    HandoffKind.CSM_KICKOFF: HandoffSla(
        business_days=2, completed_by=("kickoff_held", "meeting_booked")
    ),
}


def working_length(window: SendWindow) -> timedelta:
    """How long the window is open on one of its days (a business day)."""
    start = timedelta(hours=window.start.hour, minutes=window.start.minute)
    end = timedelta(hours=24) if window.end is None else timedelta(
        hours=window.end.hour, minutes=window.end.minute
    )  # fmt: skip
    return end - start


def add_working_time(
    start: datetime, amount: timedelta, window: SendWindow, tz: ZoneInfo
) -> datetime:
    """The instant ``amount`` of open window time after ``start`` (counted in ``tz``): a clock
    that runs only in working hours, stops at night and over the weekend."""
    at, left = start, amount
    for _ in range(10_000):
        at = window.next_open(at, tz)
        local = at.astimezone(tz)
        closes = (
            datetime.combine(local.date() + timedelta(days=1), time(), tz)
            if window.end is None
            else datetime.combine(local.date(), window.end, tz)
        )
        span = closes - at
        if left <= span:
            return at + left
        left -= span
        at = closes
    raise ValueError("working time too long")


def sla_span(sla: HandoffSla, window: SendWindow) -> timedelta:
    return working_length(window) * sla.business_days + timedelta(hours=sla.business_hours)


def deadline(
    created_at: datetime, sla: HandoffSla, window: SendWindow, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """(deadline, escalation time) in the owner's working hours."""
    due = add_working_time(created_at, sla_span(sla, window), window, tz)
    return due, add_working_time(due, timedelta(hours=sla.escalate_after_hours), window, tz)


def handoff_kind(
    left: Stage | None, entered: Stage, stage_teams: Mapping[Stage, str]
) -> HandoffKind | None:
    """The handoff an account's move from ``left`` into ``entered`` calls for: one of the entry
    stages, forward, received by another team than the one that owned the stage left."""
    kind = ENTRY_KIND.get(entered)
    if kind is None or (left is not None and left.rank >= entered.rank):
        return None
    receiving = stage_teams.get(RECEIVING_STAGE[kind])
    if receiving is None:
        return None
    return kind if left is None or stage_teams.get(left) != receiving else None


def handoff_id(account_id: str, kind: HandoffKind, episode: str) -> str:
    """One handoff per account, kind and episode (the event that moved the account)."""
    return stable_id("h_", account_id, kind.value, episode)


@dataclass(frozen=True, slots=True)
class Handoff:
    """One handoff as stored: what was handed to whom, and its clock's times."""

    id: str
    account_id: str
    contact_id: str  # the stakeholder whose move made it (reminders are per contact)
    kind: HandoffKind
    team: str
    owner: str | None
    previous_owner: str | None  # who owned the account in the team that handed it over
    episode: str
    created_at: datetime
    deadline_at: datetime
    escalate_at: datetime
    reminder_id: str | None = None
    accepted_at: datetime | None = None
    first_contact_at: datetime | None = None
    completed_at: datetime | None = None
    breached_at: datetime | None = None
    escalated_at: datetime | None = None
    escalated_to: str | None = None

    @property
    def open(self) -> bool:
        return self.completed_at is None


def due_steps(h: Handoff, now: datetime) -> tuple[HandoffStep, ...]:
    """The clock's steps due at ``now``: each at most once, escalation never before the breach
    reminder, nothing once the handoff is done."""
    if h.completed_at is not None:
        return ()
    steps: list[HandoffStep] = []
    if h.breached_at is None and now >= h.deadline_at:
        steps.append(HandoffStep.BREACH_REMINDER)
    breached = h.breached_at is not None or steps
    if breached and h.escalated_at is None and now >= h.escalate_at:
        steps.append(HandoffStep.ESCALATION)
    return tuple(steps)


def escalation_target(team: TeamConfig, owner: str | None) -> str | None:
    """The team lead, or when the owner is the lead (or there is none) the next person after
    the owner in the team's order; None when nobody else is in the team."""
    if team.lead is not None and team.lead != owner:
        return team.lead
    people = list(team.members)
    if owner in people:
        people = people[people.index(owner) + 1 :] + people[: people.index(owner)]
    return next((p for p in people if p != owner), None)


def completes(sla: HandoffSla, event_type: str) -> bool:
    """Whether an event of this type on the account completes a handoff with this SLA."""
    return event_type in sla.completed_by


def least_loaded_member(team: TeamConfig, load: Mapping[str, int]) -> str | None:
    """Round-robin within a team: the member with the fewest owned accounts among those under
    their capacity (ties: the team's order); all full: the least loaded anyway (a handoff is
    never dropped for want of room)."""
    people: Sequence[str] = list(team.members)
    if not people:
        return None
    room = [p for p in people if (c := team.members[p].capacity) is None or load.get(p, 0) < c]
    pick_from = room or [p for p in people if team.members[p].capacity != 0] or people
    return min(pick_from, key=lambda p: (load.get(p, 0), people.index(p)))


@dataclass(frozen=True, slots=True)
class TeamOwner:
    """Who owns an account in one team, and who did before (for the handoff note and the
    account page)."""

    account_id: str
    team: str
    owner: str
    previous_owner: str | None
    since: datetime
    source: str  # "crm" (an owner change or a CSM on the deal) | "pool" (the round-robin)


def crm_team_claim(
    event_type: str, properties: Mapping[str, object]
) -> tuple[str, dict[str, object]] | None:
    """(team, owner properties) a CRM event names for a team other than sales's owner field:
    ``crm_owner_changed`` with a ``team``, or ``deal_closed_won`` naming a CSM
    (``csm_email`` / ``csm_owner_id``: the success team). None: the event names no team owner
    (a plain ``crm_owner_changed`` is the sales owner, as before)."""
    if event_type == "crm_owner_changed":
        team = properties.get("team")
        if isinstance(team, str) and team.strip():
            return team.strip().lower(), dict(properties)
    if event_type == "deal_closed_won" and (
        properties.get("csm_email") or properties.get("csm_owner_id")
    ):
        return SUCCESS, {"owner_email": properties.get("csm_email"),
                         "owner_id": properties.get("csm_owner_id")}  # fmt: skip
    return None
