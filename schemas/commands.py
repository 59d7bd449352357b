"""Commands: imperative messages one service asks another to carry out."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas.base import AwareDatetime, WireModel


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    REP_CALL_REMINDER = "rep_call_reminder"
    REP_EMAIL_REMINDER = "rep_email_reminder"


class DispatchTouch(WireModel):
    """Send one touch now. ``touch_id`` is the idempotency key: never sent twice."""

    touch_id: str = Field(min_length=1, max_length=100)
    contact_id: str
    account_id: str | None = None
    channel: Channel
    template_id: str
    stage: str
    to: str = Field(description="Email address, E.164 phone number or rep address.")
    variables: dict[str, Any] = Field(default_factory=dict)
    marketing: bool = True
    decided_at: AwareDatetime

    def partition_key(self) -> str:
        return self.contact_id
