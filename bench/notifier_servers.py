"""The local SMTP server and Twilio-compatible SMS endpoint ``bench notifier`` sends to, in a
process of their own (so the figure is the notifier's, not the servers' share of one CPU):
``python -m bench.notifier_servers SMTP_PORT HTTP_PORT``. ``GET /counts`` returns how often each
touch id arrived on each channel."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aiosmtpd.smtp import SMTP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Counting:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.startswith(b"X-Trellis-Touch-Id:"):
                self.seen[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 OK"


def sms_app(sms: Counting, smtp: Counting | None = None) -> Starlette:
    async def messages(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        sms.seen[form["Body"]] += 1
        return JSONResponse({"sid": "SM" + uuid.uuid4().hex}, status_code=201)

    async def counts(request: Request) -> JSONResponse:
        return JSONResponse({"sms": sms.seen, "smtp": smtp.seen if smtp else {}})

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"]),
            Route("/counts", counts),
        ]
    )


async def serve(smtp_port: int, http_port: int) -> None:
    smtp, sms = Counting(), Counting()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(smtp), "127.0.0.1", smtp_port)
    config = uvicorn.Config(
        sms_app(sms, smtp), host="127.0.0.1", port=http_port, log_level="warning"
    )
    try:
        await uvicorn.Server(config).serve()  # until SIGTERM / SIGINT
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
