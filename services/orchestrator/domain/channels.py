"""Channels: what a consent ledger speaks about, and what a sequence step sends."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """A way to reach a person; consent is recorded per channel."""

    EMAIL = "email"
    SMS = "sms"
    CALL = "call"


class TouchChannel(StrEnum):
    """What a sequence step produces: a message to the contact or a reminder to the owner rep."""

    EMAIL = "email"
    SMS = "sms"
    REP_CALL_REMINDER = "rep_call_reminder"
    REP_EMAIL_REMINDER = "rep_email_reminder"

    @property
    def consent_channel(self) -> Channel:
        """The contact's channel whose consent the touch (or the rep's follow-up) needs."""
        return _CONSENT[self]

    @property
    def is_reminder(self) -> bool:
        """Reminders go to the rep: sales-owned, not counted against the contact's caps."""
        return self in (TouchChannel.REP_CALL_REMINDER, TouchChannel.REP_EMAIL_REMINDER)


_CONSENT: dict[TouchChannel, Channel] = {
    TouchChannel.EMAIL: Channel.EMAIL,
    TouchChannel.SMS: Channel.SMS,
    TouchChannel.REP_CALL_REMINDER: Channel.CALL,
    TouchChannel.REP_EMAIL_REMINDER: Channel.EMAIL,
}
