"""Dev default for the notifier's providers: ``trellis dev-sinks``.

With no SMTP server or SMS provider configured, ``trellis dev`` runs this as a child process and
points the notifier at it, so every message the pipeline sends can be read on disk:

- an SMTP catcher (aiosmtpd, a real SMTP server) writing each message to
  ``<data_dir>/outbox/<time>-<id>.eml`` (open it in any mail client);
- a Twilio-compatible SMS endpoint (``POST /2010-04-01/Accounts/{sid}/Messages.json``) writing
  each request to ``<data_dir>/outbox/sms/<time>-<sid>.json`` and answering ``201`` like Twilio.

Both listen on loopback only. Files are written to a temporary name and renamed, so a reader
never sees half a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import orjson
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
SMTP_FIELDS = frozenset({"smtp_host", "smtp_port", "smtp_use_tls", "smtp_username"})
SMS_FIELDS = frozenset({"sms_base_url"})


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _stamp() -> str:
    return f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"


class EmlOutbox:
    """aiosmtpd handler: every accepted message becomes one ``.eml`` file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        path = self.folder / f"{_stamp()}.eml"
        await asyncio.to_thread(_write_atomically, path, raw)
        return "250 2.0.0 Message accepted (written to the dev outbox)"


def sms_sink_app(folder: Path) -> Starlette:
    """A Twilio-compatible ``Messages.json`` endpoint that keeps every request as a JSON file."""

    async def messages(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        sid = "SM" + uuid.uuid4().hex
        body = {
            "sid": sid,
            "account_sid": request.path_params["sid"],
            "to": form.get("To"),
            "from": form.get("From") or form.get("MessagingServiceSid"),
            "body": form.get("Body"),
            "status": "queued",
            "status_callback": form.get("StatusCallback"),
            "date_created": datetime.now(UTC).isoformat(),
        }
        path = folder / f"{_stamp()}-{sid}.json"
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2)
        await asyncio.to_thread(_write_atomically, path, data)
        return JSONResponse(body, status_code=201)

    route = Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"])
    return Starlette(routes=[route])


@dataclass(frozen=True)
class DevSinks:
    outbox: Path
    smtp_port: int | None
    sms_port: int | None

    def notifier_env(self) -> dict[str, str]:
        """``TRELLIS_*`` variables that point a notifier at these sinks."""
        env: dict[str, str] = {}
        if self.smtp_port is not None:
            env |= {"TRELLIS_SMTP_HOST": HOST, "TRELLIS_SMTP_PORT": str(self.smtp_port)}
        if self.sms_port is not None:
            env["TRELLIS_SMS_BASE_URL"] = f"http://{HOST}:{self.sms_port}"
        return env


def unconfigured(settings: NotifierSettings) -> tuple[bool, bool]:
    """(SMTP, SMS): which providers nobody configured, so the dev sinks should stand in."""
    chosen = settings.model_fields_set
    return not (SMTP_FIELDS & chosen), not (SMS_FIELDS & chosen)


@contextlib.asynccontextmanager
async def running_dev_sinks(
    settings: NotifierSettings, smtp: bool = True, sms: bool = True
) -> AsyncIterator[DevSinks]:
    """Serve the SMTP catcher and the SMS sink on this event loop until the block exits."""
    outbox = settings.data_dir / "outbox"
    (outbox / "sms").mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    smtp_server: asyncio.Server | None = None
    http: uvicorn.Server | None = None
    http_task: asyncio.Task[None] | None = None
    try:
        if smtp:
            handler = EmlOutbox(outbox)
            smtp_server = await loop.create_server(
                lambda: SMTP(handler, hostname="trellis-dev-outbox"),
                HOST,
                settings.dev_smtp_port,
            )
        if sms:
            config = uvicorn.Config(
                sms_sink_app(outbox / "sms"),
                host=HOST,
                port=settings.dev_sms_port,
                log_config=None,
                access_log=False,
            )
            http = uvicorn.Server(config)
            http_task = asyncio.create_task(http.serve())
            deadline = loop.time() + 10
            while not http.started:
                if http_task.done() or loop.time() > deadline:
                    raise RuntimeError(f"dev SMS sink did not start on port {config.port}")
                await asyncio.sleep(0.02)
        yield DevSinks(
            outbox,
            settings.dev_smtp_port if smtp else None,
            settings.dev_sms_port if sms else None,
        )
    finally:
        if http is not None and http_task is not None:
            http.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await http_task
        if smtp_server is not None:
            smtp_server.close()
            await smtp_server.wait_closed()


async def serve_dev_sinks(settings: NotifierSettings, smtp: bool, sms: bool) -> None:
    """Foreground entry point: run until SIGINT/SIGTERM."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_dev_sinks(settings, smtp, sms) as sinks:
        _announce(sinks)
        await stop.wait()


def _announce(sinks: DevSinks) -> None:
    if sinks.smtp_port is not None:
        log.info("SMTP catcher on %s:%d -> %s/*.eml", HOST, sinks.smtp_port, sinks.outbox)
    if sinks.sms_port is not None:
        log.info("SMS sink on http://%s:%d -> %s/sms/*.json", HOST, sinks.sms_port, sinks.outbox)


def dev_env(settings: NotifierSettings) -> Mapping[str, str]:
    """The notifier's environment when ``trellis dev`` runs the sinks (empty: nothing to run)."""
    smtp, sms = unconfigured(settings)
    return DevSinks(
        settings.data_dir / "outbox",
        settings.dev_smtp_port if smtp else None,
        settings.dev_sms_port if sms else None,
    ).notifier_env()
