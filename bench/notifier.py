"""Notifier dispatch rate: ``python -m bench notifier``.

Runs the real ``Dispatcher`` (send ledger on SQLite, migrated with alembic) against a local
aiosmtpd server and a local Twilio-compatible HTTP endpoint: raw throughput with no provider limit,
then with a configured shared limit (target: >= 90% of the limit), counting duplicates (target 0).
The broker is not in the loop here (see ``bench kafka`` for its figures).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import Figure
from schemas.commands import Channel, DispatchTouch
from schemas.outcomes import TouchOutcome
from services.notifier.channels.base import ChannelSender
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.sms import SmsConfig, TwilioSmsSender
from services.notifier.dispatch import Dispatcher, RateLimiter
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.unsubscribe import UnsubscribeSigner
from trellis.broker import free_port
from trellis.db import create_engine
from trellis.migrate import upgrade_async

SID = "AC" + "0" * 32


class Counting:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.startswith(b"X-Trellis-Touch-Id:"):
                self.seen[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 OK"


class NullPublisher:
    async def publish(self, outcomes: Sequence[TouchOutcome]) -> None:
        return None


def sms_app(counter: Counting) -> Starlette:
    async def messages(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        counter.seen[form["Body"]] += 1
        return JSONResponse({"sid": "SM" + uuid.uuid4().hex}, status_code=201)

    return Starlette(
        routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"])]
    )


def touches(channel: Channel, n: int) -> list[tuple[DispatchTouch, int]]:
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:8]
    to = "p@bench.test" if channel is Channel.EMAIL else "+15550001111"
    return [
        (
            DispatchTouch(
                touch_id=f"{run}-{i}",
                contact_id=f"c{i}",
                channel=channel,
                template_id="generic",
                stage="engaged",
                to=to,
                decided_at=now,
                variables={"subject": "Hi", "body": f"{run}-{i}"},
            ),
            i,
        )
        for i in range(n)
    ]


async def measure(
    dispatcher: Dispatcher, commands: list[tuple[DispatchTouch, int]], batch: int
) -> float:
    start = time.perf_counter()
    for i in range(0, len(commands), batch):
        await dispatcher.dispatch(commands[i : i + batch])
    return len(commands) / (time.perf_counter() - start)


async def main(messages: int, limit: float, repeats: int, concurrency: int) -> None:
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
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        engine = create_engine(url)
        try:
            async with httpx.AsyncClient() as http:
                senders: dict[Channel, ChannelSender] = {
                    Channel.EMAIL: SmtpEmailSender(
                        SmtpConfig("127.0.0.1", smtp_port, "bench@trellis.test"),
                        UnsubscribeSigner(b"bench", "https://t.test/u"),
                    ),
                    Channel.SMS: TwilioSmsSender(
                        SmsConfig(f"http://127.0.0.1:{http_port}", SID, "t", "+15550000000"), http
                    ),
                }

                def dispatcher(limits: dict[Channel, RateLimiter]) -> Dispatcher:
                    return Dispatcher(
                        engine,
                        senders,
                        JinjaRenderer(),
                        NullPublisher(),
                        lambda: datetime.now(UTC),
                        concurrency,
                        limits=limits,
                    )

                for channel, name in ((Channel.EMAIL, "smtp"), (Channel.SMS, "sms")):
                    raw = [
                        await measure(dispatcher({}), touches(channel, messages), 500)
                        for _ in range(repeats)
                    ]
                    print(Figure(f"{name}: raw dispatch, no limit", "msg/s", raw).line())
                    limiter = SqlRateLimiter(engine, f"bench-{name}", limit)
                    n = max(int(limit * 3), 50)
                    lim = [
                        await measure(dispatcher({channel: limiter}), touches(channel, n), 500)
                        for _ in range(repeats)
                    ]
                    figure = Figure(f"{name}: limited to {limit:,.0f}/s", "msg/s", lim)
                    print(f"{figure.line()}  = {figure.median / limit:.1%} of the limit")
        finally:
            await engine.dispose()
    server.should_exit = True
    await task
    controller.stop()
    dupes = sum(1 for c in (*smtp.seen.values(), *sms.seen.values()) if c > 1)
    print(
        f"messages received: smtp {sum(smtp.seen.values()):,} sms {sum(sms.seen.values()):,}; "
        f"touch ids received more than once: {dupes}"
    )


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench notifier", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--limit", type=float, default=200.0, help="provider limit, msg/s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    asyncio.run(main(args.messages, args.limit, args.repeats, args.concurrency))
