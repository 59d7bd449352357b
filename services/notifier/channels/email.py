"""Email over SMTP (aiosmtplib): multipart text + HTML, RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import email.policy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, make_msgid
from typing import Protocol

import aiosmtplib

from schemas.commands import DispatchTouch
from services.notifier.channels.base import Failed, SendResult, Sent
from services.notifier.channels.mime import RawEmail, build_raw_email
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


class CachedHeaderRegistry(HeaderRegistry):
    """The stdlib registry builds a new header class on every lookup (``type(...)`` per header
    set or parsed); the classes depend only on the header name, so keep them."""

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one registry per process, never freed
    def __getitem__(self, name: str) -> type[BaseHeader]:
        return super().__getitem__(name)


MAX_LINE = 998
"""RFC 5322's hard limit on a line, CRLF excluded."""


class LiteralUrlHeader(UnstructuredHeader, BaseHeader):
    """A ``<https://...>`` list header (RFC 2369 / RFC 8058) written as it is: the stdlib folds a
    token longer than the line length into RFC 2047 encoded-words (``=?utf-8?q?=3Chttps...``),
    which mailbox providers do not read as a URL, so one-click unsubscribe silently breaks. The
    value goes on one line, or on the continuation line when the header would exceed the
    policy's line length; a URL is never split."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, object]) -> None:
        value = value.strip()
        if not value.isascii() or any(c.isspace() for c in value):
            raise ValueError("a list header URL must be ASCII without white space")
        super().parse(value, kwds)

    def fold(self, *, policy: Policy) -> str:
        line = f"{self.name}: {self}"
        limit = policy.max_line_length or MAX_LINE
        if len(line) > limit:
            line = f"{self.name}:{policy.linesep} {self}"
        return line + policy.linesep


HEADERS = CachedHeaderRegistry()
HEADERS.map_to_type("list-unsubscribe", LiteralUrlHeader)
POLICY = email.policy.default.clone(header_factory=HEADERS)


def build_email(
    touch: DispatchTouch,
    message: RenderedMessage,
    sender: str,
    domain: str,
    unsubscribe_url: str | None,
    now: datetime,
) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = sender
    msg["To"] = touch.to
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=touch.touch_id.replace("@", "_"), domain=domain)
    msg["X-Trellis-Touch-Id"] = touch.touch_id
    if unsubscribe_url is not None:
        if len(unsubscribe_url) + 3 > MAX_LINE:  # " <url>" on a line of its own
            raise ValueError(f"unsubscribe URL longer than a {MAX_LINE}-character line")
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(message.text)
    msg.add_alternative(message.html, subtype="html")
    return msg


def smtp_client(config: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.use_tls,
        start_tls=config.start_tls,
        validate_certs=config.validate_certs,
        timeout=config.timeout_s,
    )


def failed_from(exc: Exception) -> Failed:
    """A 4xx or a failed connection is retryable; 5xx is not; anything else may have been
    accepted by the server, so it is never resent blindly."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]  # one recipient per message: not named here
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return Failed(retryable=all(400 <= c < 500 for c in codes), detail=detail)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Failed(retryable=400 <= exc.code < 500, detail=f"{exc.code} {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPConnectTimeoutError):
        return Failed(retryable=True, detail=f"connect: {exc}")
    return Failed(retryable=False, detail=f"unknown: {type(exc).__name__}: {exc}")


def result_of(msg: EmailMessage, refused: dict[str, aiosmtplib.SMTPResponse]) -> SendResult:
    return _sent_unless_refused(str(msg["Message-ID"]), refused)


def raw_result(raw: RawEmail, refused: dict[str, aiosmtplib.SMTPResponse]) -> SendResult:
    return _sent_unless_refused(raw.message_id, refused)


def _sent_unless_refused(
    message_id: str, refused: dict[str, aiosmtplib.SMTPResponse]
) -> SendResult:
    if refused:
        detail = "; ".join(f"{r.code} {r.message}" for r in refused.values())
        return Failed(retryable=False, detail=f"refused: {detail}")
    return Sent(provider_id=message_id)


async def send_smtp(config: SmtpConfig, msg: EmailMessage) -> SendResult:
    """Hand ``msg`` to the SMTP server on a connection of its own."""
    try:
        async with smtp_client(config) as client:
            refused, _response = await client.send_message(msg)
    except (aiosmtplib.SMTPException, OSError) as exc:
        return failed_from(exc)
    return result_of(msg, refused)


class SmtpSend(Protocol):
    async def send(self, msg: EmailMessage) -> SendResult: ...

    async def send_raw(self, raw: RawEmail) -> SendResult: ...


async def send_raw_smtp(config: SmtpConfig, raw: RawEmail) -> SendResult:
    """Hand ``raw`` to the SMTP server on a connection of its own."""
    try:
        async with smtp_client(config) as client:
            refused, _response = await client.sendmail(raw.envelope_from, [raw.recipient], raw.data)
    except (aiosmtplib.SMTPException, OSError) as exc:
        return failed_from(exc)
    return raw_result(raw, refused)


class SmtpEmailSender:
    """Sends ``email`` touches; marketing email carries a signed one-click unsubscribe link."""

    def __init__(
        self,
        config: SmtpConfig,
        unsubscribe: UnsubscribeSigner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pool: SmtpSend | None = None,
    ) -> None:
        self._config = config
        self._unsubscribe = unsubscribe
        self._clock = clock
        self._pool = pool
        """Reused connections (``SmtpConnectionPool``); without one, a connection per message."""

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        now = self._clock()
        url = self._unsubscribe.url(touch.contact_id, now) if touch.marketing else None
        config = self._config
        raw = build_raw_email(touch, message, config.sender, config.domain, url, now)
        if raw is not None:  # the common case, without the stdlib's header parsing
            if self._pool is not None:
                return await self._pool.send_raw(raw)
            return await send_raw_smtp(config, raw)
        try:
            msg = build_email(touch, message, config.sender, config.domain, url, now)
        except ValueError as exc:  # an over-long unsubscribe link, a line break in a header
            return Failed(retryable=False, detail=f"message: {exc}")
        if self._pool is not None:
            return await self._pool.send(msg)
        return await send_smtp(config, msg)
