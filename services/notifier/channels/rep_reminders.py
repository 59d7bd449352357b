"""Reminders to sales reps: Slack (``channels.slack``), a Standard-Webhooks-signed webhook, or
email with an iCalendar (RFC 5545) ``METHOD:REQUEST`` invite for call reminders
(``channels.calendar``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import orjson

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import SendResult
from services.notifier.channels.calendar import call_invite
from services.notifier.channels.email import SmtpConfig, build_email, send_smtp
from services.notifier.channels.slack import SlackReminderSender, post, slack_payload
from services.notifier.render import RenderedMessage

__all__ = [
    "EmailReminderSender", "SlackReminderSender", "WebhookReminderSender", "call_invite",
    "sign_standard_webhook", "slack_payload",
]  # fmt: skip


def sign_standard_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of id.timestamp.body>`` keyed by the base64 ``whsec_`` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class WebhookReminderSender:
    def __init__(
        self,
        url: str,
        secret: str,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self._clock = clock

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        now = self._clock()
        body = orjson.dumps(
            {
                "type": f"rep_reminder.{touch.channel.value}",
                "timestamp": now.isoformat(),
                "data": {
                    "touch_id": touch.touch_id,
                    "contact_id": touch.contact_id,
                    "account_id": touch.account_id,
                    "rep": touch.to,
                    "stage": touch.stage,
                    "subject": message.subject,
                    "text": message.text,
                    "variables": touch.variables,
                },
            }
        )
        ts = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": touch.touch_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard_webhook(self._secret, touch.touch_id, ts, body),
        }
        return await post(self._client, self._url, body, headers, f"webhook:{touch.touch_id}")


class EmailReminderSender:
    """Email to the rep; a call reminder also carries a ``text/calendar`` invite part."""

    def __init__(
        self, config: SmtpConfig, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._config = config
        self._clock = clock

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        now = self._clock()
        msg = build_email(touch, message, self._config.sender, self._config.domain, None, now)
        if touch.channel is Channel.REP_CALL_REMINDER:
            ics = call_invite(touch, message, self._config.sender, self._config.domain, now)
            msg.add_alternative(ics.decode(), subtype="calendar", params={"method": "REQUEST"})
        return await send_smtp(self._config, msg)
