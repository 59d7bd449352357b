"""The pooled raw transaction (``smtp_pool._Wire``) against a scripted SMTP server on a real
socket: replies split across reads and spread over several lines, a 421 that closes the
connection, a server that hangs up mid-message (never resent blindly), and a reply nobody asked
for (never paired with the next command)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from services.notifier.channels.base import Failed, Sent
from services.notifier.channels.email import SmtpConfig
from services.notifier.channels.mime import RawEmail
from services.notifier.channels.smtp_pool import SmtpConnectionPool

Script = Callable[[bytes], list[bytes] | None]
"""A command line -> the chunks to write back (``None``: hang up)."""

RAW = RawEmail("n@trellis.test", "ana@acme.test", "<m1@trellis.test>", b"Subject: x\r\n\r\nhi\r\n")


def default(line: bytes) -> list[bytes] | None:
    if line == b"<body>":  # the message arrived
        return [b"250 ok\r\n"]
    verb = line[:4].upper()
    if verb in (b"EHLO", b"HELO"):
        return [b"250-scripted\r\n250 8BITMIME\r\n"]
    if verb == b"MAIL":
        return [b"25", b"0-sender\r\n250 ok\r\n"]  # split across reads, two lines
    if verb == b"RCPT":
        return [b"250 ok\r\n"]
    if verb == b"DATA":
        return [b"354 go on\r\n"]
    if verb == b"QUIT":
        return [b"221 bye\r\n"]
    return [b"500 what\r\n"]


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[tuple[int, list[bytes]]]:
    messages: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        try:
            while line := await reader.readline():
                reply = script(line)
                if line.upper().startswith(b"DATA") and reply and reply[0].startswith(b"354"):
                    writer.write(reply[0])
                    body = await reader.readuntil(b"\r\n.\r\n")
                    after = script(b"<body>")
                    if after is None:
                        break
                    messages.append(body)
                    reply = after
                if reply is None:
                    break
                for chunk in reply:
                    writer.write(chunk)
                    await writer.drain()
                    await asyncio.sleep(0.001)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, messages


def config(port: int) -> SmtpConfig:
    return SmtpConfig("127.0.0.1", port, "n@trellis.test", start_tls=False, timeout_s=5)


async def test_split_and_multiline_replies_are_read_whole() -> None:
    def script(line: bytes) -> list[bytes] | None:
        return [b"250-queued\r\n", b"250 as m1\r\n"] if line == b"<body>" else default(line)

    async with (
        scripted(script) as (port, messages),
        SmtpConnectionPool(config(port), size=1) as pool,
    ):
        results = [await pool.send_raw(RAW) for _ in range(3)]
        assert pool.opened == 1

    assert results == [Sent("<m1@trellis.test>")] * 3
    assert messages == [RAW.data + b".\r\n"] * 3


async def test_421_fails_retryably_and_the_connection_is_dropped() -> None:
    said = []

    def script(line: bytes) -> list[bytes] | None:
        said.append(line)
        first_rcpt = line.startswith(b"RCPT") and said.count(line) == 1
        return [b"421 shutting down\r\n"] if first_rcpt else default(line)

    async with (
        scripted(script) as (port, messages),
        SmtpConnectionPool(config(port), size=1) as pool,
    ):
        refused = await pool.send_raw(RAW)
        sent = await pool.send_raw(RAW)
        assert pool.opened == 2

    assert isinstance(refused, Failed) and refused.retryable and refused.detail.startswith("421")
    assert sent == Sent("<m1@trellis.test>") and len(messages) == 1


async def test_a_hang_up_mid_message_is_a_failure_never_resent() -> None:
    async with (
        scripted(lambda line: None if line == b"<body>" else default(line)) as (port, _),
        SmtpConnectionPool(config(port), size=1) as pool,
    ):
        result = await pool.send_raw(RAW)

    assert isinstance(result, Failed) and not result.retryable
    assert "unknown" in result.detail


async def test_an_unasked_reply_is_never_paired_with_the_next_command() -> None:
    def script(line: bytes) -> list[bytes] | None:
        if line == b"<body>":
            return [b"250 ok\r\n", b"550 stray: nobody asked\r\n"]
        return default(line)

    async with (
        scripted(script) as (port, messages),
        SmtpConnectionPool(config(port), size=1) as pool,
    ):
        first = await pool.send_raw(RAW)
        await asyncio.sleep(0.05)  # the stray reply arrives while the connection is idle
        second = await pool.send_raw(RAW)

    assert first == Sent("<m1@trellis.test>")
    assert second == Sent("<m1@trellis.test>")
    assert len(messages) == 2


async def test_a_server_that_never_answers_fails_at_the_deadline_never_resent() -> None:
    silent: list[bytes] = []

    def script(line: bytes) -> list[bytes] | None:
        return silent if line == b"<body>" else default(line)  # says nothing, stays connected

    async with scripted(script) as (port, _):
        quick = SmtpConfig("127.0.0.1", port, "n@trellis.test", start_tls=False, timeout_s=0.3)
        async with SmtpConnectionPool(quick, size=1) as pool:
            started = asyncio.get_running_loop().time()
            result = await asyncio.wait_for(pool.send_raw(RAW), 10)
            took = asyncio.get_running_loop().time() - started
            again = await asyncio.wait_for(pool.send_raw(RAW), 10)
            opened = pool.opened
    assert isinstance(result, Failed) and not result.retryable, result
    assert "no reply within 0.3 s" in result.detail
    assert 0.25 <= took < 5
    assert isinstance(again, Failed) and opened == 2, "the timed-out connection was dropped"
