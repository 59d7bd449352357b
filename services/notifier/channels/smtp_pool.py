"""Reused SMTP connections: one TCP + TLS + AUTH handshake serves many messages.

At most ``size`` connections to one server are open at once (the bound on concurrent SMTP
sends). A connection goes back to the pool only after a clean transaction; one that raised, or
that the server closed while idle, is dropped and a new one is opened on the next send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from functools import partial
from types import TracebackType

import aiosmtplib
from aiosmtplib.typing import SMTPStatus

from services.notifier.channels.base import SendResult
from services.notifier.channels.email import (
    SmtpConfig,
    failed_from,
    raw_result,
    result_of,
    smtp_client,
)
from services.notifier.channels.mime import RawEmail

Refused = dict[str, aiosmtplib.SMTPResponse]
Transaction = Callable[[aiosmtplib.SMTP], Awaitable[tuple[Refused, str]]]
Result = Callable[[Refused], SendResult]


class SmtpConnectionPool:
    def __init__(self, config: SmtpConfig, size: int = 8) -> None:
        self._config = config
        self._slots = asyncio.Semaphore(size)
        self._idle: list[aiosmtplib.SMTP] = []
        self.opened = 0
        """Connections opened so far (for tests and metrics)."""

    async def send(self, msg: EmailMessage) -> SendResult:
        """A message built by the stdlib (flattened by aiosmtplib)."""
        return await self._transact(lambda conn: conn.send_message(msg), partial(result_of, msg))

    async def send_raw(self, raw: RawEmail) -> SendResult:
        """A message already written as bytes (``mime.build_raw_email``)."""
        return await self._transact(partial(_deliver, raw=raw), partial(raw_result, raw))

    async def _transact(self, transaction: Transaction, result: Result) -> SendResult:
        async with self._slots:
            conn = self._checkout()
            try:
                if conn is None:
                    conn = smtp_client(self._config)
                    self.opened += 1
                    await conn.connect()  # STARTTLS and AUTH as configured
                refused, _response = await transaction(conn)
            except (aiosmtplib.SMTPException, OSError) as exc:
                if conn is not None:
                    conn.close()
                return failed_from(exc)
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
            self._idle.append(conn)
            return result(refused)

    def _checkout(self) -> aiosmtplib.SMTP | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.is_connected:
                return conn
            conn.close()  # the server hung up while it was idle
        return None

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await conn.quit()
            conn.close()

    async def __aenter__(self) -> SmtpConnectionPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


async def _deliver(conn: aiosmtplib.SMTP, raw: RawEmail) -> tuple[Refused, str]:
    """MAIL, RCPT, DATA for one recipient, under one deadline (the connection's timeout) for
    the whole transaction rather than a timer per command. ``sendmail`` would also parse both
    addresses again with ``email.utils`` on every message; ``mime`` only writes addresses it has
    already checked. A refusal raises as ``sendmail``'s do; the pool then drops the connection.
    """
    async with asyncio.timeout(conn.timeout):
        if conn.is_ehlo_or_helo_needed:
            await conn.ehlo()
        sender = f"FROM:<{raw.envelope_from}>".encode()
        mail = await conn.execute_command(b"MAIL", sender, timeout=None)
        if mail.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, raw.envelope_from)
        recipient = f"TO:<{raw.recipient}>".encode()
        rcpt = await conn.execute_command(b"RCPT", recipient, timeout=None)
        if rcpt.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
            refused = aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, raw.recipient)
            raise aiosmtplib.SMTPRecipientsRefused([refused])
        response = await conn.data(raw.data, timeout=None)
    return {}, response.message
