"""Outcomes: what happened to a touch, reported back to the orchestrator."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import AwareDatetime, WireModel
from schemas.commands import Channel


class OutcomeStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    FAILED = "failed"
    UNSUBSCRIBED = "unsubscribed"
    STOP = "stop"
    START = "start"  # SMS START keyword: the phone's owner opts back in
    CONFIRMED = "confirmed"  # a signed double-opt-in link clicked by the recipient


class TouchOutcome(WireModel):
    """One outcome for one touch (or a consent change tied to a contact)."""

    id: str = Field(min_length=1, max_length=200, description="Stable id; dedup key.")
    touch_id: str | None = None
    contact_id: str = Field(
        min_length=1,
        max_length=64,
        description="A contact id (or, for an inbound SMS, the phone number it came from); "
        "longer is refused at the door, not by a database column downstream.",
    )
    channel: Channel
    status: OutcomeStatus
    retryable: bool = False
    provider_id: str | None = None
    detail: str | None = Field(default=None, max_length=2000)
    occurred_at: AwareDatetime

    def partition_key(self) -> str:
        return self.contact_id
