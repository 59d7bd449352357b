"""Reused SMTP connections: one TCP + TLS + AUTH handshake serves many messages.

At most ``size`` connections to one server are open at once (the bound on concurrent SMTP
sends). A connection goes back to the pool only after a clean transaction; one that raised, or
that the server closed while idle, is dropped and a new one is opened on the next send.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage
from functools import partial
from types import TracebackType
from typing import cast

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
    if conn.is_ehlo_or_helo_needed:
        async with asyncio.timeout(conn.timeout):
            await conn.ehlo()
    with _Wire.on(conn, conn.timeout) as wire:
        mail = await wire.reply(b"MAIL FROM:<%s>\r\n" % raw.envelope_from.encode())
        if mail.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, raw.envelope_from)
        rcpt = await wire.reply(b"RCPT TO:<%s>\r\n" % raw.recipient.encode())
        if rcpt.code not in (SMTPStatus.completed, SMTPStatus.will_forward):
            refused = aiosmtplib.SMTPRecipientRefused(rcpt.code, rcpt.message, raw.recipient)
            raise aiosmtplib.SMTPRecipientsRefused([refused])
        start = await wire.reply(b"DATA\r\n")
        if start.code != SMTPStatus.start_input:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        response = await wire.reply(dot_stuffed(raw.data) + b".\r\n")
        if response.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
    return {}, response.message


class _Wire(asyncio.Protocol):
    """One transaction's commands and replies, straight on the connection's transport.

    aiosmtplib opens the connection (EHLO, STARTTLS, AUTH) and keeps it between messages; for
    the four exchanges of a message this protocol stands in for its own (``set_protocol``),
    then hands the transport back. Its ``execute_command`` and ``data`` took a lock, checked
    every argument with a regular expression, rewrote the whole message with two more and woke
    a task through ``wait_for`` per reply: ~70 of the ~400 us of CPU a message cost (the
    notifier's budget is 500 us, issue 16). A pooled connection runs one transaction at a time,
    and ``mime`` writes only checked ASCII lines ending in CRLF (dot-stuffed here)."""

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport
        self._buffer = bytearray()
        self._waiter: asyncio.Future[aiosmtplib.SMTPResponse] | None = None
        self._lost: BaseException | None = None

    @classmethod
    @contextlib.contextmanager
    def on(cls, conn: aiosmtplib.SMTP, timeout: float | None) -> Iterator[_Wire]:
        """The connection's transport for one transaction, which must end within ``timeout``
        seconds (one timer: ``asyncio.timeout`` cost more than a reply)."""
        transport = cast(asyncio.WriteTransport | None, conn.transport)
        if transport is None or transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        own = transport.get_protocol()
        wire = cls(transport)
        transport.set_protocol(wire)
        expiry = None
        if timeout is not None:
            expiry = asyncio.get_running_loop().call_later(timeout, wire._expire, timeout)
        try:
            yield wire
        finally:
            if expiry is not None:
                expiry.cancel()
            if not transport.is_closing():
                transport.set_protocol(own)

    def _expire(self, timeout: float) -> None:
        self._fail(aiosmtplib.SMTPReadTimeoutError(f"no reply within {timeout:g} s"))

    async def reply(self, line: bytes) -> aiosmtplib.SMTPResponse:
        """Write ``line`` and wait for the server's whole reply; 421 (the server is going away)
        raises, as aiosmtplib's would, and the pool drops the connection."""
        if self._lost is not None or self._transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._transport.write(line)
        response: aiosmtplib.SMTPResponse = await waiter
        if response.code == SMTPStatus.domain_unavailable:
            raise aiosmtplib.SMTPResponseException(response.code, response.message)
        return response

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # nothing asked: never pair it with a later command
            self._fail(aiosmtplib.SMTPResponseException(-1, "unexpected data from the server"))
            return
        if not self._buffer and data.find(b"\n") == len(data) - 1 and data[3:4] == b" ":
            lines = [data.rstrip()]  # the usual reply: one line, in one read
        else:
            self._buffer += data
            if len(self._buffer) > MAX_REPLY:
                self._fail(aiosmtplib.SMTPResponseException(-1, "Response too long"))
                return
            if not self._buffer.endswith(b"\n"):
                return
            lines = bytes(self._buffer).splitlines()
            if len(lines[-1]) > 3 and lines[-1][3:4] == b"-":  # a multiline reply goes on
                return
            self._buffer.clear()
        try:
            code = int(lines[-1][:3])
        except ValueError:
            self._fail(aiosmtplib.SMTPResponseException(-1, f"Malformed reply: {lines[-1]!r}"))
            return
        message = b"\n".join(line[4:].strip() for line in lines)
        self._waiter = None
        waiter.set_result(aiosmtplib.SMTPResponse(code, message.decode("utf-8", "replace")))

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._fail(lost)

    def _fail(self, exc: BaseException) -> None:
        self._lost = exc
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self._transport.close()


MAX_REPLY = 64 * 1024
"""A longer reply is not an SMTP server's (aiosmtplib's own bound is the same order)."""


def dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: a line that starts with a period gets another one; ``data`` ends in CRLF
    and its line breaks are CRLF (``mime``'s output)."""
    if not data.startswith(b".") and b"\n." not in data:
        return data
    return (b"." + data if data.startswith(b".") else data).replace(b"\n.", b"\n..")
