"""What the ops API answers, as pydantic models: its OpenAPI gives clients real types.

The routes still build plain dicts (``queries`` is shared with the dashboard); these models are
their ``response_model``, so FastAPI checks every answer against them and the document says
what comes back. Three rules keep the JSON exactly as it was before the models existed:

- routes serialise with ``response_model_exclude_unset``: a key the dict did not have (a webhook
  source's ``active_secrets``, an event's ``properties`` in a timeline) is not invented;
- times serialise with ``isoformat()``, as FastAPI's encoder wrote them (``+00:00``, not ``Z``);
- rows allow extra keys: a column added by a migration shows up, typed once it is declared.

Open structures stay open inside typed models: decision ``facts``, ``traits``, event
``properties`` are ``dict[str, Any]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

T = TypeVar("T")

Time = Annotated[
    datetime,
    PlainSerializer(lambda at: at.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An aware UTC time, written as ``datetime.isoformat()``."""
Open = dict[str, Any]


def answers(model: Any) -> dict[str, Any]:
    """A route's keyword arguments: answers ``model``, keys the route did not write left out."""
    return {"response_model": model, "response_model_exclude_unset": True}


class Row(BaseModel):
    """A row or view: the declared fields are typed, a newer column passes through."""

    model_config = ConfigDict(extra="allow")


class Page(BaseModel, Generic[T]):
    """One page of a list, newest or lowest first; ``next_cursor`` fetches the next (null: the
    last page)."""

    items: list[T]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class StageMove(Row):
    from_stage: str | None
    to_stage: str
    reason: str
    event_id: str | None
    occurred_at: Time
    left_at: Time | None = Field(description="when it left that stage (null: still there)")
    days_in_stage: float | None


class ContactSummary(Row):
    id: str
    email: str | None
    external_id: str | None
    account_id: str | None
    role: str | None
    stage: str
    score: float
    fit: float
    owner_rep: str | None
    stage_entered_at: Time | None
    last_event_at: Time | None


class RulePoints(Row):
    rule: str
    points: float
    events: int


class ScoreBreakdown(Row):
    total: float
    undecayed: float | None
    as_of: Time | str | None
    fit: float
    by_rule: list[RulePoints]


class ChannelConsent(Row):
    allowed: bool
    status: str | None
    source: str | None
    recorded_at: Time | None
    basis: str = Field(description="opt_in or legitimate_interest (the nurture plan's)")
    suppressed_by: str | None = Field(description="unsubscribed, stop, hard_bounce, ...")


class LedgerEntry(Row):
    channel: str
    status: str
    source: str
    evidence: str | None
    recorded_at: Time


class ConsentState(Row):
    """Per channel whether a touch is allowed now and why, and the ledger oldest first."""

    channels: dict[str, ChannelConsent]
    ledger: list[LedgerEntry]


class Touch(Row):
    id: str
    contact_id: str
    account_id: str | None
    channel: str
    template_id: str
    stage: str
    sequence_step: str | None
    status: str
    reason: str | None
    due_at: Time
    claimed_by: str | None
    claimed_at: Time | None
    dispatched_at: Time | None
    created_at: Time


class Reminder(Row):
    id: str
    rep: str
    contact_id: str | None
    account_id: str | None
    reason: str
    status: str
    evidence: list[Any]
    talking_points: list[Any]
    snoozed_until: Time | None
    due_at: Time
    created_at: Time
    updated_at: Time
    suppressed: bool


class ListedReminder(Reminder):
    contact_email: str | None


class ContactDetail(ContactSummary):
    timezone: str | None
    traits: Open
    created_at: Time
    score_breakdown: ScoreBreakdown
    stage_history: list[StageMove]
    consent: ConsentState
    touches: list[Touch] = Field(description="the 20 latest by due time")
    reminders: list[Reminder] = Field(description="the 20 latest")


class Decision(Row):
    """One row of the decision log: every yes and no, with its reason."""

    id: int
    contact_id: str | None
    account_id: str | None
    touch_id: str | None
    kind: str
    reason: str
    facts: Open
    event_id: str | None
    playbook_version: str
    decided_at: Time


class AccountSummary(Row):
    id: str
    name: str | None
    domain: str | None
    external_id: str | None
    stage: str
    score: float
    owner_rep: str | None
    stage_entered_at: Time | None


class CommitteeGap(Row):
    """The account's stage wants one of ``missing`` engaged and has none (the playbook's
    ``accounts.wanted_roles``); the owner rep is reminded once per stage."""

    stage: str
    missing: list[str]
    closest: list[ContactSummary] = Field(description="known in a missing role, not engaged")
    champion: ContactSummary | None = Field(description="the furthest along, to introduce them")


class Committee(Row):
    roles: list[str]
    covered: list[str]
    missing: list[str]
    coverage: float | None
    gap: CommitteeGap | None = None


class AccountPause(Row):
    """One stakeholder raised a hand: marketing to the others waits until ``until`` (or the rep
    acknowledging a reminder at the account)."""

    until: Time
    by: ContactSummary | None
    event_type: str
    event_id: str


class AccountDetail(AccountSummary):
    traits: Open
    stakeholders: dict[str, list[ContactSummary]] = Field(description="contacts by role")
    committee: Committee
    pause: AccountPause | None = None
    stage_history: list[StageMove]


# Named pages: a generated client gets ``TouchPage``, not ``Page_Touch_``.
class ContactPage(Page[ContactSummary]):
    pass


class AccountPage(Page[AccountSummary]):
    pass


class TouchPage(Page[Touch]):
    pass


class ReminderPage(Page[ListedReminder]):
    pass


class DecisionPage(Page[Decision]):
    pass
