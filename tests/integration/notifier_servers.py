"""Real local servers the notifier tests talk to: aiosmtpd (SMTP) and one HTTP server speaking
the Twilio Messages API, a Slack incoming webhook and a generic webhook receiver."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from trellis.broker import free_port

SID, TOKEN = "AC" + "1" * 32, "test-auth-token"
REFUSED, GREYLISTED = "nobody@refused.test", "later@greylist.test"


class SmtpCatcher:
    """aiosmtpd handler keeping every accepted message; refuses two magic recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        """Each accepted message's DATA exactly as received (headers as on the wire)."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user"
        if address == GREYLISTED:
            return "451 4.7.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.raw.append(raw)
        return "250 Message accepted"

    def by_touch(self, touch_id: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["X-Trellis-Touch-Id"] == touch_id]


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[SmtpCatcher, int]]:
    catcher = SmtpCatcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield catcher, port
    finally:
        controller.stop()


@dataclass
class HttpSink:
    sms: list[dict[str, str]] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _app(sink: HttpSink) -> Starlette:
    async def messages(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if request.path_params["sid"] != SID or request.headers.get("authorization") != expected:
            return JSONResponse({"code": 20003, "message": "Authenticate"}, status_code=401)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        to = form.get("To", "")
        sink.calls[to] = sink.calls.get(to, 0) + 1
        if to.endswith("7503") and sink.calls[to] <= 2:  # flaky: two 503s, then accepted
            return PlainTextResponse("busy", status_code=503)
        if to.endswith("0429"):
            return JSONResponse({"code": 20429, "message": "Too Many Requests"}, status_code=429)
        if to.endswith("0500"):
            return PlainTextResponse("upstream exploded", status_code=503)
        if to.endswith("21610"):
            body = {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
            return JSONResponse(body, status_code=400)
        sink.sms.append(form)
        sid = "SM" + uuid.uuid4().hex
        return JSONResponse({"sid": sid, "status": "queued", "to": to}, status_code=201)

    async def slack(request: Request) -> Response:
        sink.slack.append(await request.json())
        return PlainTextResponse("ok")

    async def webhook(request: Request) -> Response:
        sink.webhooks.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"]),
            Route("/slack", slack, methods=["POST"]),
            Route("/webhook", webhook, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def serving(app: Starlette, port: int) -> AsyncIterator[None]:
    """``app`` served by uvicorn on 127.0.0.1:``port`` until the block ends."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 10
    while not server.started:
        if task.done() or asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("local HTTP server did not start")
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def http_server() -> AsyncIterator[HttpSink]:
    sink = HttpSink(port=free_port())
    async with serving(_app(sink), sink.port):
        yield sink
