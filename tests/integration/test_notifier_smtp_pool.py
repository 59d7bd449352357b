"""Reused SMTP connections against aiosmtpd: STARTTLS with a self-signed certificate made here,
AUTH required over TLS, many messages per connection, reconnect after the server hangs up, and a
wrong password failing fast (permanent) instead of hanging."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import uvloop
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notifier.channels.base import Failed, Sent
from services.notifier.channels.email import SmtpConfig
from services.notifier.channels.mime import RawEmail
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from tests.integration.notifier_servers import SmtpCatcher
from trellis.broker import free_port

USER, PASSWORD = "trellis", "s3cret-pass"


def self_signed(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (USER, PASSWORD)
    # handled=False: aiosmtpd answers 535 itself; without it the client hangs (see DESIGN.md)
    return AuthResult(success=ok, handled=False)


class CountingCatcher(SmtpCatcher):
    def __init__(self) -> None:
        super().__init__()
        self.sessions: set[int] = set()
        self.tls_sessions = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        self.tls_sessions += session.ssl is not None
        assert session.authenticated
        return await super().handle_DATA(server, session, envelope)


@dataclass
class TlsServer:
    catcher: CountingCatcher
    port: int
    tls: ssl.SSLContext
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.catcher,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=self.tls,
            require_starttls=True,
            authenticator=authenticator,
            auth_require_tls=True,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    server = TlsServer(CountingCatcher(), free_port(), self_signed(tmp_path))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def config(port: int, password: str = PASSWORD) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        sender="nurture@trellis.test",
        username=USER,
        password=password,
        start_tls=True,
        validate_certs=False,  # self-signed; the point here is STARTTLS + AUTH on the wire
        timeout_s=5,
    )


def message(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "nurture@trellis.test"
    msg["To"] = f"ana{i}@acme.test"
    msg["Subject"] = f"hello {i}"
    msg["Message-ID"] = f"<m{i}@trellis.test>"
    msg.set_content("body")
    return msg


async def test_many_messages_share_one_starttls_authenticated_connection(
    tls_server: TlsServer,
) -> None:
    async with SmtpConnectionPool(config(tls_server.port), size=2) as pool:
        first = [await pool.send(message(i)) for i in range(3)]
        concurrent = await asyncio.gather(*(pool.send(message(i)) for i in range(3, 13)))
        opened = pool.opened
    assert all(isinstance(r, Sent) for r in [*first, *concurrent])
    assert len(tls_server.catcher.messages) == 13
    assert tls_server.catcher.tls_sessions == 13
    assert opened == 2, "ten concurrent sends through a pool of two open only two connections"
    assert len(tls_server.catcher.sessions) == 2


async def test_a_connection_the_server_dropped_is_replaced(tls_server: TlsServer) -> None:
    async with SmtpConnectionPool(config(tls_server.port), size=1) as pool:
        assert isinstance(await pool.send(message(1)), Sent)
        tls_server.stop()  # the server goes away with our idle connection
        tls_server.start()
        deadline = asyncio.get_running_loop().time() + 5
        while pool._idle and pool._idle[0].is_connected:  # the hang-up reaches the client
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert isinstance(await pool.send(message(2)), Sent)
        assert pool.opened == 2
    assert len(tls_server.catcher.messages) == 2


async def test_a_wrong_password_fails_permanently_without_hanging(tls_server: TlsServer) -> None:
    async with SmtpConnectionPool(config(tls_server.port, password="wrong"), size=1) as pool:
        result = await asyncio.wait_for(pool.send(message(1)), 10)
    assert isinstance(result, Failed)
    assert not result.retryable
    assert result.detail.startswith("535")
    assert tls_server.catcher.messages == []


async def test_refusing_plain_text_auth_is_reported_not_hung(tls_server: TlsServer) -> None:
    plain = SmtpConfig(
        host="127.0.0.1",
        port=tls_server.port,
        sender="nurture@trellis.test",
        start_tls=False,
        timeout_s=5,
    )
    async with SmtpConnectionPool(plain, size=1) as pool:
        result = await asyncio.wait_for(pool.send(message(1)), 10)
    assert isinstance(result, Failed)
    assert result.detail.startswith("530")  # "Must issue a STARTTLS command first"
    assert tls_server.catcher.messages == []


def raw(i: int) -> RawEmail:
    data = (
        f"From: nurture@trellis.test\r\nTo: ana{i}@acme.test\r\nSubject: raw {i}\r\n"
        f"Message-ID: <r{i}@trellis.test>\r\n\r\n.line {i}\r\n"
    ).encode()
    return RawEmail("nurture@trellis.test", f"ana{i}@acme.test", f"<r{i}@trellis.test>", data)


async def test_written_messages_take_over_the_tls_connection_and_hand_it_back(
    tls_server: TlsServer,
) -> None:
    """The raw path writes on the TLS transport itself (``_Wire``) and gives it back to
    aiosmtplib after each message: stdlib-built and raw messages alternate on one connection."""
    async with SmtpConnectionPool(config(tls_server.port), size=1) as pool:
        results = []
        for i in range(4):
            results.append(await pool.send_raw(raw(i)))
            results.append(await pool.send(message(10 + i)))
        results += await asyncio.gather(*(pool.send_raw(raw(i)) for i in range(4, 9)))
        opened = pool.opened
    assert all(isinstance(r, Sent) for r in results), results
    assert opened == 1 and len(tls_server.catcher.sessions) == 1
    assert tls_server.catcher.tls_sessions == 13
    got = {m["Message-ID"]: m.get_content() for m in tls_server.catcher.messages}
    assert got["<r3@trellis.test>"] == ".line 3\r\n"  # dot-stuffed on the wire, whole on arrival
    assert len(got) == 13


async def test_a_raw_send_on_a_dropped_connection_reconnects(tls_server: TlsServer) -> None:
    async with SmtpConnectionPool(config(tls_server.port), size=1) as pool:
        assert isinstance(await pool.send_raw(raw(1)), Sent)
        tls_server.stop()
        tls_server.start()
        deadline = asyncio.get_running_loop().time() + 5
        while pool._idle and pool._idle[0].is_connected:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert isinstance(await pool.send_raw(raw(2)), Sent)
        assert pool.opened == 2
    assert len(tls_server.catcher.messages) == 2


@pytest.mark.parametrize(
    "scenario",
    [
        test_written_messages_take_over_the_tls_connection_and_hand_it_back,
        test_a_raw_send_on_a_dropped_connection_reconnects,
    ],
    ids=["alternating", "dropped"],
)
def test_the_raw_path_on_the_notifiers_own_loop(
    tls_server: TlsServer, scenario: Callable[[TlsServer], Coroutine[Any, Any, None]]
) -> None:
    """``trellis notifier`` runs on uvloop (``trellis.runtime.run_service``), whose TLS
    transport is not asyncio's: the wire takes it over and hands it back there too."""
    uvloop.run(scenario(tls_server))
