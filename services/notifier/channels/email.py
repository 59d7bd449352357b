"""Email over SMTP (aiosmtplib): multipart text + HTML, RFC 8058 one-click unsubscribe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from schemas.commands import DispatchTouch
from services.notifier.channels.base import Failed, SendResult, Sent
from services.notifier.render import RenderedMessage
from services.notifier.unsubscribe import UnsubscribeSigner


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    """Implicit TLS (SMTPS, usually port 465)."""
    start_tls: bool | None = None
    """STARTTLS: ``True`` required, ``False`` never, ``None`` when the server offers it."""
    validate_certs: bool = True
    timeout_s: float = 30.0

    @property
    def domain(self) -> str:
        return self.sender.rsplit("@", 1)[-1].strip(">")


def build_email(
    touch: DispatchTouch,
    message: RenderedMessage,
    sender: str,
    domain: str,
    unsubscribe_url: str | None,
    now: datetime,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = touch.to
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=touch.touch_id.replace("@", "_"), domain=domain)
    msg["X-Trellis-Touch-Id"] = touch.touch_id
    if unsubscribe_url is not None:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


async def send_smtp(config: SmtpConfig, msg: EmailMessage) -> SendResult:
    """Hand ``msg`` to the SMTP server; a 4xx or a failed connection is retryable, 5xx is not."""
    try:
        refused, _response = await aiosmtplib.send(
            msg,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            validate_certs=config.validate_certs,
            timeout=config.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        return Failed(retryable=all(400 <= c < 500 for c in codes), detail=detail)
    except aiosmtplib.SMTPResponseException as exc:
        return Failed(retryable=400 <= exc.code < 500, detail=f"{exc.code} {exc.message}")
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
        return Failed(retryable=True, detail=f"connect: {exc}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        # The server may have accepted the message before the failure: never resend blindly.
        return Failed(retryable=False, detail=f"unknown: {type(exc).__name__}: {exc}")
    if refused:
        detail = "; ".join(f"{rcpt}: {r.code} {r.message}" for rcpt, r in refused.items())
        return Failed(retryable=False, detail=f"refused: {detail}")
    return Sent(provider_id=str(msg["Message-ID"]))


class SmtpEmailSender:
    """Sends ``email`` touches; marketing email carries a signed one-click unsubscribe link."""

    def __init__(
        self,
        config: SmtpConfig,
        unsubscribe: UnsubscribeSigner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._config = config
        self._unsubscribe = unsubscribe
        self._clock = clock

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        now = self._clock()
        url = self._unsubscribe.url(touch.contact_id, now) if touch.marketing else None
        msg = build_email(touch, message, self._config.sender, self._config.domain, url, now)
        return await send_smtp(self._config, msg)
