"""Notifier dispatch rate: ``python -m bench notifier``.

Runs the real ``Dispatcher`` (send ledger on SQLite, migrated with alembic) against a local
aiosmtpd server and a local Twilio-compatible HTTP endpoint: raw throughput with no provider limit,
then with a configured shared limit (target: >= 90% of the limit), counting duplicates (target 0).
The broker is not in the loop here (see ``bench kafka`` for its figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from bench.common import Figure
from bench.notifier_servers import Counting, sms_app
from schemas.commands import Channel, DispatchTouch
from schemas.outcomes import TouchOutcome
from services.notifier.channels.base import ChannelSender
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.sms import SmsConfig, TwilioSmsSender
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.dispatch import Dispatcher, RateLimiter
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.unsubscribe import UnsubscribeSigner
from trellis.broker import free_port, port_in_use
from trellis.db import create_engine
from trellis.migrate import upgrade_async

SID = "AC" + "0" * 32
Counts = dict[str, dict[str, int]]
Servers = tuple[int, int, Callable[[], Awaitable[Counts]]]


class NullPublisher:
    async def publish(self, outcomes: Sequence[TouchOutcome]) -> None:
        return None


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


async def main(
    messages: int,
    limit: float,
    repeats: int,
    concurrency: int,
    pool_size: int,
    in_process: bool,
) -> None:
    servers = servers_in_process() if in_process else servers_in_a_process()
    async with servers as (smtp_port, http_port, counts):
        await run_all(smtp_port, http_port, messages, limit, repeats, concurrency, pool_size)
        seen = await counts()
    dupes = sum(1 for c in (*seen["smtp"].values(), *seen["sms"].values()) if c > 1)
    print(
        f"messages received: smtp {sum(seen['smtp'].values()):,} "
        f"sms {sum(seen['sms'].values()):,}; touch ids received more than once: {dupes}"
    )


async def run_all(
    smtp_port: int,
    http_port: int,
    messages: int,
    limit: float,
    repeats: int,
    concurrency: int,
    pool_size: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        engine = create_engine(url)
        try:
            smtp_config = SmtpConfig("127.0.0.1", smtp_port, "bench@trellis.test")
            pool = SmtpConnectionPool(smtp_config, pool_size) if pool_size else None
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as http:
                senders: dict[Channel, ChannelSender] = {
                    Channel.EMAIL: SmtpEmailSender(
                        smtp_config,
                        UnsubscribeSigner(b"bench", "https://t.test/u"),
                        pool=pool,
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
            if pool is not None:
                await pool.aclose()
            await engine.dispose()


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench notifier", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--limit", type=float, default=200.0, help="provider limit, msg/s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--smtp-pool", type=int, default=8, help="reused SMTP connections (0: one per message)"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the SMTP/SMS servers in this process (they then share its CPU)",
    )
    args = parser.parse_args(argv)
    asyncio.run(
        main(
            args.messages,
            args.limit,
            args.repeats,
            args.concurrency,
            args.smtp_pool,
            args.in_process,
        )
    )
