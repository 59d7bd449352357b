"""Reminders to sales reps: Slack incoming webhook, Standard-Webhooks-signed webhook, or email
with an iCalendar (RFC 5545) ``METHOD:REQUEST`` invite for call reminders."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from icalendar import Calendar, Event, vCalAddress

from schemas.commands import Channel, DispatchTouch
from services.notifier.channels.base import Failed, SendResult, Sent
from services.notifier.channels.email import SmtpConfig, build_email, send_smtp
from services.notifier.render import RenderedMessage

LINKS = (
    ("ack_url", "Acknowledge"),
    ("snooze_url", "Snooze"),
    ("contact_url", "Contact"),
    ("account_url", "Account"),
)


def _http_result(response: httpx.Response, provider_id: str) -> SendResult:
    if 200 <= response.status_code < 300:
        return Sent(provider_id=provider_id)
    retryable = response.status_code == 429 or response.status_code >= 500
    return Failed(retryable=retryable, detail=f"{response.status_code}: {response.text[:500]}")


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], provider_id: str
) -> SendResult:
    try:
        response = await client.post(url, content=body, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return Failed(retryable=True, detail=f"connect: {exc!r}")
    except httpx.TransportError as exc:
        return Failed(retryable=False, detail=f"unknown: {exc!r}")
    return _http_result(response, provider_id)


def slack_payload(touch: DispatchTouch, message: RenderedMessage) -> dict[str, Any]:
    v = touch.variables
    headline = f"*{message.subject}*\n{message.text}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
    ]
    if evidence := v.get("evidence"):
        items = evidence if isinstance(evidence, list) else [evidence]
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": str(item)} for item in items[:10]],
            }
        )
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": str(v[key])}
        for key, label in LINKS
        if v.get(key)
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": f"{message.subject}: {message.text}"[:3000], "blocks": blocks}


class SlackReminderSender:
    def __init__(self, webhook_url: str, client: httpx.AsyncClient) -> None:
        self._url = webhook_url
        self._client = client

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        body = orjson.dumps(slack_payload(touch, message))
        headers = {"content-type": "application/json"}
        return await _post(self._client, self._url, body, headers, f"slack:{touch.touch_id}")


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
        return await _post(self._client, self._url, body, headers, f"webhook:{touch.touch_id}")


def call_invite(
    touch: DispatchTouch, message: RenderedMessage, organizer: str, domain: str, now: datetime
) -> bytes:
    """A ``METHOD:REQUEST`` invite with a UID stable per touch, so a resend updates, not adds."""
    raw_start = touch.variables.get("call_at")
    start = datetime.fromisoformat(raw_start) if isinstance(raw_start, str) else now
    minutes = int(touch.variables.get("call_minutes", 15))
    cal = Calendar()
    cal.add("prodid", "-//Trellis//rep reminders//EN")
    cal.add("version", "2.0")
    cal.add("method", "REQUEST")
    event = Event()
    event.add("uid", f"{touch.touch_id}@{domain}")
    event.add("sequence", 0)
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    event.add("summary", message.subject)
    event.add("description", message.text)
    event.add("organizer", vCalAddress(f"mailto:{organizer}"))
    attendee = vCalAddress(f"mailto:{touch.to}")
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    attendee.params["RSVP"] = "TRUE"
    event.add("attendee", attendee)
    cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical


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
