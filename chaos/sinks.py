"""Fault-injecting SMTP server and Twilio-compatible SMS endpoint, in a process of their own:

    python -m chaos.sinks SMTP_PORT HTTP_PORT RECEIVED.jsonl

Every accepted message is one JSON line in RECEIVED.jsonl (channel, touch id, Message-ID,
recipient, SMS body, wall time received). ``POST /control`` with ``{"smtp": MODE, "sms": MODE,
"delay_s": S}`` switches the behaviour at once; modes:

- ``ok``: accept (SMTP 250, SMS 201);
- ``tempfail``: SMTP ``451``, SMS ``503`` (the sender should retry);
- ``permfail``: SMTP ``550``, SMS ``400`` with Twilio code 21211 (the sender should give up),
  both naming the recipient as real providers do (it must not reach a log line);
- ``slow``: wait ``delay_s`` seconds, then accept.

Connection refused is not a mode: put ``chaos.proxy.TcpProxy`` in front and cut it.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from email import message_from_bytes
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl

import orjson
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODES = ("ok", "tempfail", "permfail", "slow")


class Faults:
    def __init__(self, received: IO[bytes]) -> None:
        self.smtp = "ok"
        self.sms = "ok"
        self.delay_s = 2.0
        self.received = received
        self.refused = {"smtp": 0, "sms": 0}

    def record(self, entry: dict[str, Any]) -> None:
        self.received.write(orjson.dumps(entry | {"at": time.time()}) + b"\n")
        self.received.flush()


class FaultySmtp:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mode = self.faults.smtp
        if mode == "slow":
            await asyncio.sleep(self.faults.delay_s)
        elif mode == "tempfail":
            self.faults.refused["smtp"] += 1
            return "451 4.3.0 chaos: try again later"
        elif mode == "permfail":  # naming the recipient, as Postfix and most servers do
            self.faults.refused["smtp"] += 1
            return f"550 5.1.1 <{','.join(envelope.rcpt_tos)}>: Recipient address rejected"
        msg = message_from_bytes(envelope.original_content or b"")
        self.faults.record(
            {
                "channel": "smtp",
                "touch_id": msg.get("X-Trellis-Touch-Id"),
                "message_id": msg.get("Message-ID"),
                "to": ",".join(envelope.rcpt_tos),
            }
        )
        return "250 2.0.0 OK"


def control_app(faults: Faults) -> Starlette:
    async def messages(request: Request) -> JSONResponse:
        mode = faults.sms
        if mode == "slow":
            await asyncio.sleep(faults.delay_s)
        elif mode == "tempfail":
            faults.refused["sms"] += 1
            return JSONResponse({"code": 20503, "message": "chaos"}, status_code=503)
        elif mode == "permfail":  # Twilio's own wording names the number
            faults.refused["sms"] += 1
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
            message = f"The 'To' number {form.get('To')} is not a valid phone number."
            return JSONResponse({"code": 21211, "message": message}, status_code=400)
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        sid = "SM" + uuid.uuid4().hex
        faults.record(
            {"channel": "sms", "sid": sid, "to": form.get("To"), "body": form.get("Body")}
        )
        return JSONResponse({"sid": sid, "status": "queued"}, status_code=201)

    async def control(request: Request) -> JSONResponse:
        body = orjson.loads(await request.body())
        for channel in ("smtp", "sms"):
            if channel in body:
                if body[channel] not in MODES:
                    return JSONResponse({"error": f"mode one of {MODES}"}, status_code=400)
                setattr(faults, channel, body[channel])
        faults.delay_s = float(body.get("delay_s", faults.delay_s))
        return JSONResponse(state())

    def state() -> dict[str, Any]:
        return {"smtp": faults.smtp, "sms": faults.sms, "refused": faults.refused}

    async def status(request: Request) -> JSONResponse:
        return JSONResponse(state())

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"]),
            Route("/control", control, methods=["POST"]),
            Route("/control", status, methods=["GET"]),
        ]
    )


async def serve(smtp_port: int, http_port: int, received: Path) -> None:
    with received.open("ab") as out:
        faults = Faults(out)
        loop = asyncio.get_running_loop()
        handler = FaultySmtp(faults)
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="chaos-sink"), "127.0.0.1", smtp_port
        )
        config = uvicorn.Config(
            control_app(faults),
            host="127.0.0.1",
            port=http_port,
            log_level="warning",
            access_log=False,
        )
        try:
            await uvicorn.Server(config).serve()  # until SIGTERM / SIGINT
        finally:
            server.close()


def read_received(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))
