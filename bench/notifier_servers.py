"""The local SMTP server and Twilio-compatible SMS endpoint ``bench notifier`` sends to, in a
process of their own (so the figure is the notifier's, not the servers' share of one CPU):
``python -m bench.notifier_servers SMTP_PORT HTTP_PORT``. ``GET /counts`` returns how often each
touch id arrived on each channel. ``servers_in_a_process`` starts and stops that process;
``servers_in_process`` runs the same servers in the caller's loop."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trellis.broker import free_port, port_in_use

Counts = dict[str, dict[str, int]]
Servers = tuple[int, int, Callable[[], Awaitable[Counts]]]


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


@contextlib.asynccontextmanager
async def servers_in_process() -> AsyncIterator[Servers]:
    smtp, sms = Counting(), Counting()
    smtp_port, http_port = free_port(), free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    server = uvicorn.Server(
        uvicorn.Config(sms_app(sms), host="127.0.0.1", port=http_port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("local SMS endpoint did not start")
        await asyncio.sleep(0.02)

    async def counts() -> Counts:
        return {"smtp": dict(smtp.seen), "sms": dict(sms.seen)}

    try:
        yield smtp_port, http_port, counts
    finally:
        server.should_exit = True
        await task
        controller.stop()


@contextlib.asynccontextmanager
async def servers_in_a_process() -> AsyncIterator[Servers]:
    smtp_port, http_port = free_port(), free_port()
    argv = [sys.executable, "-m", "bench.notifier_servers", str(smtp_port), str(http_port)]
    proc = await asyncio.create_subprocess_exec(*argv)
    deadline = time.monotonic() + 15
    while not (port_in_use("127.0.0.1", smtp_port) and port_in_use("127.0.0.1", http_port)):
        if proc.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError("bench servers did not start")
        await asyncio.sleep(0.05)

    async def counts() -> Counts:
        async with httpx.AsyncClient() as http:
            reply = (await http.get(f"http://127.0.0.1:{http_port}/counts")).json()
        return {k: dict(v) for k, v in reply.items()}

    try:
        yield smtp_port, http_port, counts
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


if __name__ == "__main__":
    try:  # the sink's own loop: a faster one leaves more of the CPU to the notifier
        import uvloop
    except ImportError:  # uvicorn[standard] brings it on Linux
        asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
    else:
        uvloop.run(serve(int(sys.argv[1]), int(sys.argv[2])))
