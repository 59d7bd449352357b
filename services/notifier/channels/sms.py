"""SMS over a Twilio-compatible REST API (httpx): form POST, Basic auth, 201 with the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from schemas.commands import DispatchTouch
from services.notifier.channels.base import Failed, SendResult, Sent
from services.notifier.render import RenderedMessage
from trellis.signed_tokens import status_callback_url

PERMANENT_CODES = frozenset({21610, 21211, 21614, 21612, 21408})
"""21610: recipient replied STOP (a consent change); others: invalid / unreachable number."""


@dataclass(frozen=True)
class SmsConfig:
    base_url: str
    """``https://api.twilio.com`` in production; a local server in dev and tests."""
    account_sid: str
    auth_token: str
    sender: str
    """A ``From`` number, or a ``MessagingServiceSid`` (``MG...``)."""
    status_callback: str | None = None
    """Ingest's ``/v1/sms/status``; each message's URL carries a signed contact|touch token."""
    status_secret: bytes = b""


def classify(status: int, body: dict[str, object]) -> Failed:
    code = body.get("code")
    detail = f"{status} code={code}: {body.get('message', '')}"
    if code in PERMANENT_CODES:
        return Failed(retryable=False, detail=detail)
    return Failed(retryable=status == 429 or status >= 500, detail=detail)


class TwilioSmsSender:
    def __init__(self, config: SmsConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client
        self._url = (
            f"{config.base_url.rstrip('/')}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        )

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        form = {"To": touch.to, "Body": message.text}
        if self._config.sender.startswith("MG"):
            form["MessagingServiceSid"] = self._config.sender
        else:
            form["From"] = self._config.sender
        if self._config.status_callback:
            form["StatusCallback"] = status_callback_url(
                self._config.status_callback, self._config.status_secret,
                touch.contact_id, touch.touch_id, datetime.now(UTC),
            )  # fmt: skip
        auth = (self._config.account_sid, self._config.auth_token)
        try:
            response = await self._client.post(self._url, data=form, auth=auth)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Failed(retryable=True, detail=f"connect: {exc!r}")
        except httpx.TransportError as exc:
            # The request may have reached the provider: never resend blindly.
            return Failed(retryable=False, detail=f"unknown: {exc!r}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code in (200, 201) and isinstance(body.get("sid"), str):
            return Sent(provider_id=body["sid"])
        return classify(response.status_code, body)
