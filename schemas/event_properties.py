"""Each documented event type's ``properties``: a pydantic model tagged by a ``type`` literal.

``EventProperties`` is their union discriminated by ``type``. Properties models accept extra keys
(producers enrich events with their own fields) but the documented fields are typed and
validated. What the vocabulary does with them (known types, validation, who may assert what) is
in ``schemas.vocabulary``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.base import AwareDatetime

Channel = Literal["email", "sms", "call"]
Money = Annotated[float, Field(ge=0)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Id = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]


class Properties(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class PageViewed(Properties):
    type: Literal["page_viewed"] = "page_viewed"
    url: Text | None = None
    path: Text | None = None
    title: Text | None = None
    referrer: Text | None = None
    is_pricing: bool = Field(default=False, description="Derived from the path when not given.")

    @model_validator(mode="before")
    @classmethod
    def _derive_pricing(cls, data: Any) -> Any:
        if isinstance(data, dict) and "is_pricing" not in data:
            where = str(data.get("path") or data.get("url") or "")
            return {**data, "is_pricing": "/pricing" in where.lower()}
        return data

    @model_validator(mode="after")
    def _located(self) -> PageViewed:
        if not (self.url or self.path or self.title):  # a server-side page call names only
            raise ValueError("page_viewed needs url, path or title")
        return self


class ContentDownloaded(Properties):
    type: Literal["content_downloaded"] = "content_downloaded"
    content_id: Id
    title: Text | None = None
    content_type: Text | None = Field(default=None, description="whitepaper, case_study, ...")
    url: Text | None = None


class WebinarRegistered(Properties):
    type: Literal["webinar_registered"] = "webinar_registered"
    webinar_id: Id
    title: Text | None = None
    starts_at: AwareDatetime | None = None


class WebinarAttended(Properties):
    type: Literal["webinar_attended"] = "webinar_attended"
    webinar_id: Id
    title: Text | None = None
    duration_minutes: float | None = Field(default=None, ge=0)


class EmailOpened(Properties):
    type: Literal["email_opened"] = "email_opened"
    message_id: Id | None = None
    campaign_id: Id | None = None


class EmailClicked(Properties):
    type: Literal["email_clicked"] = "email_clicked"
    url: Text
    message_id: Id | None = None
    campaign_id: Id | None = None


class FormSubmitted(Properties):
    type: Literal["form_submitted"] = "form_submitted"
    form_id: Id
    form_name: Text | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class DemoRequested(Properties):
    type: Literal["demo_requested"] = "demo_requested"
    notes: Text | None = None


class ContactSalesRequested(Properties):
    type: Literal["contact_sales_requested"] = "contact_sales_requested"
    topic: Text | None = None
    message: Text | None = None


class MeetingBooked(Properties):
    type: Literal["meeting_booked"] = "meeting_booked"
    meeting_id: Id | None = None
    starts_at: AwareDatetime | None = None
    owner_email: Text | None = None


class CrmLeadStatusChanged(Properties):
    type: Literal["crm_lead_status_changed"] = "crm_lead_status_changed"
    status: Id
    previous_status: Id | None = None


class CrmOwnerChanged(Properties):
    type: Literal["crm_owner_changed"] = "crm_owner_changed"
    owner_id: Id
    owner_email: Text | None = None
    previous_owner_id: Id | None = None


class DealCreated(Properties):
    type: Literal["deal_created"] = "deal_created"
    deal_id: Id
    stage: Id | None = None
    amount: Money | None = None
    currency: Currency | None = None


class DealStageChanged(Properties):
    type: Literal["deal_stage_changed"] = "deal_stage_changed"
    deal_id: Id
    stage: Id
    previous_stage: Id | None = None


class DealClosedWon(Properties):
    type: Literal["deal_closed_won"] = "deal_closed_won"
    deal_id: Id
    amount: Money | None = None
    currency: Currency | None = None


class DealClosedLost(Properties):
    type: Literal["deal_closed_lost"] = "deal_closed_lost"
    deal_id: Id
    reason: Text | None = None


class ProductActivated(Properties):
    type: Literal["product_activated"] = "product_activated"
    product: Id | None = None
    plan: Id | None = None


class UsageMilestone(Properties):
    type: Literal["usage_milestone"] = "usage_milestone"
    milestone: Id
    value: float | None = None


class SeatsChanged(Properties):
    type: Literal["seats_changed"] = "seats_changed"
    seats: int = Field(ge=0)
    previous_seats: int | None = Field(default=None, ge=0)


class SupportTicketOpened(Properties):
    type: Literal["support_ticket_opened"] = "support_ticket_opened"
    ticket_id: Id
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    subject: Text | None = None


class NpsSubmitted(Properties):
    type: Literal["nps_submitted"] = "nps_submitted"
    score: int = Field(ge=0, le=10)
    comment: Text | None = None


class SubscriptionCancelled(Properties):
    type: Literal["subscription_cancelled"] = "subscription_cancelled"
    reason: Text | None = None
    effective_at: AwareDatetime | None = None


class ConsentGiven(Properties):
    """A grant needs evidence a regulator would accept: how, and where or with what proof."""

    type: Literal["consent_given"] = "consent_given"
    channel: Channel
    method: Id = Field(description="form, double_opt_in, import, paper, ...")
    form: Text | None = Field(default=None, description="the form's id or name")
    page: Text | None = Field(default=None, description="the page (URL or path) it was given on")
    ip: Annotated[str, Field(max_length=64)] | None = Field(default=None, description="client IP")
    proof_id: Id | None = Field(default=None, description="an id in the consent tool's records")

    @model_validator(mode="after")
    def _evidenced(self) -> ConsentGiven:
        if not (self.form or self.page or self.ip or self.proof_id):
            raise ValueError("consent_given needs evidence: form, page, ip or proof_id")
        return self


class ConsentWithdrawn(Properties):
    """Never refused for want of evidence: losing an opt-out is worse than a thin record."""

    type: Literal["consent_withdrawn"] = "consent_withdrawn"
    channel: Literal["email", "sms", "call", "all"] = Field(
        description="``all``: do not contact at all, on any channel"
    )
    reason: Text | None = None
    method: Id | None = None
    form: Text | None = None
    page: Text | None = None
    ip: Annotated[str, Field(max_length=64)] | None = None
    proof_id: Id | None = None


class ContactIdentified(Properties):
    """Who a contact is (Segment ``identify``): the traits travel on ``contact.traits``."""

    type: Literal["contact_identified"] = "contact_identified"


class AccountLinked(Properties):
    """A contact belongs to an account (Segment ``group``): traits on ``account.traits``."""

    type: Literal["account_linked"] = "account_linked"


EventProperties = Annotated[
    ContactIdentified
    | AccountLinked
    | PageViewed
    | ContentDownloaded
    | WebinarRegistered
    | WebinarAttended
    | EmailOpened
    | EmailClicked
    | FormSubmitted
    | DemoRequested
    | ContactSalesRequested
    | MeetingBooked
    | CrmLeadStatusChanged
    | CrmOwnerChanged
    | DealCreated
    | DealStageChanged
    | DealClosedWon
    | DealClosedLost
    | ProductActivated
    | UsageMilestone
    | SeatsChanged
    | SupportTicketOpened
    | NpsSubmitted
    | SubscriptionCancelled
    | ConsentGiven
    | ConsentWithdrawn,
    Field(discriminator="type"),
]
