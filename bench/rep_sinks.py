"""Where the rep is, for ``bench speed_to_lead --at-sink``: a local SMTP server and a Slack-style
incoming webhook in a process of their own (``python -m bench.rep_sinks SMTP_PORT HTTP_PORT
MARKETING_DOMAIN``), so their CPU is not the notifier's. Each arrival is stamped with
``time.monotonic()`` (one clock for every process on the machine) the moment it is accepted.
``GET /received`` returns the reminders (SMTP: touch id, recipient; Slack: the text the rep
reads) and the arrival times of marketing email (recipients in ``MARKETING_DOMAIN``)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

TOUCH_HEADER = b"X-Trellis-Touch-Id:"


class Arrivals:
    def __init__(self, marketing_domain: str) -> None:
        self.marketing_domain = marketing_domain
        self.marketing: list[float] = []
        self.smtp: list[dict[str, Any]] = []
        self.slack: list[dict[str, Any]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        at = time.monotonic()
        to = ",".join(str(r) for r in envelope.rcpt_tos)
        if to.endswith(self.marketing_domain):
            self.marketing.append(at)
            return "250 OK"
        touch_id = ""
        for line in (envelope.original_content or b"").split(b"\r\n"):
            if line.startswith(TOUCH_HEADER):
                touch_id = line[len(TOUCH_HEADER) :].strip().decode()
                break
            if not line:  # end of the headers
                break
        self.smtp.append({"at": at, "touch_id": touch_id, "to": to})
        return "250 OK"


def sink_app(arrivals: Arrivals) -> Starlette:
    async def slack(request: Request) -> PlainTextResponse:
        at = time.monotonic()
        arrivals.slack.append({"at": at, "body": (await request.body()).decode()})
        return PlainTextResponse("ok")  # what Slack answers an incoming webhook

    async def received(_request: Request) -> JSONResponse:
        return JSONResponse(
            {"marketing": arrivals.marketing, "smtp": arrivals.smtp, "slack": arrivals.slack}
        )

    return Starlette(
        routes=[Route("/slack", slack, methods=["POST"]), Route("/received", received)]
    )


async def serve(smtp_port: int, http_port: int, marketing_domain: str) -> None:
    arrivals = Arrivals(marketing_domain)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(arrivals), "127.0.0.1", smtp_port)
    config = uvicorn.Config(
        sink_app(arrivals), host="127.0.0.1", port=http_port, log_level="warning"
    )
    try:
        await uvicorn.Server(config).serve()  # until SIGTERM / SIGINT
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
