"""Notifier dispatch cost and rate: ``python -m bench notifier``.

Runs the real ``Dispatcher`` (send ledger on SQLite migrated with alembic, or ``--postgres``)
against a local aiosmtpd server and a local Twilio-compatible HTTP endpoint, in a process of
their own. Figures, each a median of ``--repeats`` runs with its ratio to a baseline of the same
run: CPU per email with the ledger pre-filled to each ``--ledger-rows`` size (target <= 0.5 ms,
flat: the largest against the smallest; baseline: the stdlib-built email of before), raw email
throughput over pooled SMTP connections against a connection per message (target >= 1,000
msg/s), SMS raw, then each channel under a configured shared limit (target >= 90% of it), and
duplicates received (target 0). Written to ``bench/results/notifier.json`` (or
``notifier-postgres.json``). The broker is not in the loop (see ``bench kafka``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import Figure
from bench.notifier_ledger import StdlibBuilt, cpu_ms_per_message, ledger_of, ledger_rows
from bench.notifier_servers import servers_in_a_process, servers_in_process
from schemas.commands import Channel, DispatchTouch
from schemas.outcomes import TouchOutcome
from services.notifier.channels.base import ChannelSender
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.sms import SmsConfig, TwilioSmsSender
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.dispatch import Dispatcher, RateLimiter
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.settings import NotifierSettings
from services.notifier.unsubscribe import UnsubscribeSigner
from trellis.runtime import event_loop_name, run_service

SID = "AC" + "0" * 32
RESULTS = Path(__file__).parent / "results"


class NullPublisher:
    async def publish(self, outcomes: Sequence[TouchOutcome]) -> None:
        return None


def touches(channel: Channel, n: int) -> list[tuple[DispatchTouch, int]]:
    """Random touch ids, as the orchestrator's hashed ones: spread over the ledger's index."""
    now = datetime.now(UTC)
    to = "p@bench.test" if channel is Channel.EMAIL else "+15550001111"
    ids = [f"t_{uuid.uuid4().hex}" for _ in range(n)]
    return [
        (
            DispatchTouch(
                touch_id=touch_id,
                contact_id=f"c{i}",
                channel=channel,
                template_id="generic",
                stage="engaged",
                to=to,
                decided_at=now,
                variables={"subject": "Hi", "body": touch_id},
            ),
            i,
        )
        for i, touch_id in enumerate(ids)
    ]


async def measure(
    dispatcher: Dispatcher, commands: list[tuple[DispatchTouch, int]], batch: int
) -> float:
    start = time.perf_counter()
    for i in range(0, len(commands), batch):
        await dispatcher.dispatch(commands[i : i + batch])
    return len(commands) / (time.perf_counter() - start)


async def main(options: Options) -> None:
    servers = servers_in_process() if options.in_process else servers_in_a_process()
    async with servers as (smtp_port, http_port, counts):
        report = await run_all(smtp_port, http_port, options)
        seen = await counts()
    dupes = sum(1 for c in (*seen["smtp"].values(), *seen["sms"].values()) if c > 1)
    print(
        f"messages received: smtp {sum(seen['smtp'].values()):,} "
        f"sms {sum(seen['sms'].values()):,}; touch ids received more than once: {dupes}"
    )
    report["duplicates"] = dupes
    report["database"] = "postgresql" if options.postgres else "sqlite"
    out = RESULTS / ("notifier-postgres.json" if options.postgres else "notifier.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"figures written to {out}")


@dataclass(frozen=True)
class Options:
    messages: int
    limit: float
    repeats: int
    concurrency: int
    pool_size: int
    in_process: bool
    ledger_sizes: tuple[int, ...]
    postgres: bool


def dispatcher_for(
    engine: AsyncEngine,
    senders: dict[Channel, ChannelSender],
    concurrency: int,
    limits: dict[Channel, RateLimiter] | None = None,
) -> Dispatcher:
    return Dispatcher(
        engine, senders, JinjaRenderer(), NullPublisher(), lambda: datetime.now(UTC),
        concurrency, limits=limits or {},
    )  # fmt: skip


async def run_all(smtp_port: int, http_port: int, o: Options) -> dict[str, Any]:
    """Every figure, each the median of ``o.repeats`` runs, with the ratio to its baseline."""
    report: dict[str, Any] = {"messages": o.messages, "repeats": o.repeats, "figures": {}}

    def record(figure: Figure, baseline: Figure | None = None, note: str = "") -> None:
        print(figure.line(baseline) + note)
        entry: dict[str, Any] = {"unit": figure.unit, "median": figure.median, "runs": figure.runs}
        if baseline is not None:
            entry["ratio_to"] = {baseline.name: figure.median / baseline.median}
        report["figures"][figure.name] = entry

    smtp_config = SmtpConfig("127.0.0.1", smtp_port, "Bench <bench@trellis.test>")
    pool = SmtpConnectionPool(smtp_config, o.pool_size)
    signer = UnsubscribeSigner(b"bench", "https://t.test/u")
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=o.concurrency)) as http:
        sms = TwilioSmsSender(
            SmsConfig(f"http://127.0.0.1:{http_port}", SID, "t", "+15550000000"), http
        )
        pooled: dict[Channel, ChannelSender] = {
            Channel.EMAIL: SmtpEmailSender(smtp_config, signer, pool=pool), Channel.SMS: sms
        }  # fmt: skip
        unpooled: dict[Channel, ChannelSender] = {
            Channel.EMAIL: SmtpEmailSender(smtp_config, signer)
        }
        async with contextlib.AsyncExitStack() as ledgers:
            engines = {n: await ledgers.enter_async_context(ledger_of(n, o.postgres))
                       for n in o.ledger_sizes}  # fmt: skip
            cpu, rates = await cpu_figures(engines, pooled, StdlibBuilt(pool, signer), o, record)
            engine = engines[o.ledger_sizes[0]]
            alone = dispatcher_for(engine, unpooled, o.concurrency)
            base = Figure("smtp: a connection per message", "msg/s", [
                await measure(alone, touches(Channel.EMAIL, o.messages), 500)
                for _ in range(o.repeats)
            ])  # fmt: skip
            record(base)
            for raw in rates:
                record(raw, base)
            await limited(engine, pooled, o, record)
        await pool.aclose()
    report["cpu_ms_per_message"] = {str(n): f.median / 1000 for n, f in cpu.items()}
    return report


async def cpu_figures(
    engines: dict[int, AsyncEngine],
    senders: dict[Channel, ChannelSender],
    stdlib: ChannelSender,
    o: Options,
    record: Callable[[Figure, Figure | None, str], None],
) -> tuple[dict[int, Figure], list[Figure]]:
    """CPU per email on each ledger size and with the stdlib-built baseline, the runs
    interleaved so that all see the same machine load; and the pooled rates of those runs."""
    rows = {n: await ledger_rows(e) for n, e in engines.items()}  # before any run adds to them
    new = {n: dispatcher_for(e, senders, o.concurrency) for n, e in engines.items()}
    first = o.ledger_sizes[0]
    old = dispatcher_for(engines[first], {Channel.EMAIL: stdlib}, o.concurrency)
    runs: dict[int, list[tuple[float, float]]] = {n: [] for n in engines}
    before = []
    for d in (*new.values(), old):  # warm up: connections, caches
        await d.dispatch(touches(Channel.EMAIL, 200))
    for _ in range(o.repeats):
        email = touches(Channel.EMAIL, o.messages)
        before.append((await cpu_ms_per_message(old.dispatch, email, 500))[0] * 1000)
        for n, d in new.items():
            runs[n].append(
                await cpu_ms_per_message(d.dispatch, touches(Channel.EMAIL, o.messages), 500)
            )
    baseline = Figure("smtp: CPU per message, stdlib-built email (before)", "us", before)
    record(baseline, None, f"  = {baseline.median / 1000:.3f} ms/msg")
    cpu: dict[int, Figure] = {}
    for n, measured in runs.items():
        cpu[n] = Figure(f"smtp: CPU per message, {rows[n]:,} ledger rows", "us",
                        [ms * 1000 for ms, _ in measured])  # fmt: skip
        record(
            cpu[n], baseline if n == first else cpu[first], f"  = {cpu[n].median / 1000:.3f} ms/msg"
        )
    rates = [
        Figure(
            f"smtp: pooled ({o.pool_size}), {n:,} ledger rows", "msg/s", [r for _, r in measured]
        )
        for n, measured in runs.items()
    ]
    return cpu, rates


async def limited(
    engine: AsyncEngine,
    senders: dict[Channel, ChannelSender],
    o: Options,
    record: Callable[[Figure, Figure | None, str], None],
) -> None:
    """SMS raw, then each channel under a shared provider limit: >= 90% of it is the target."""
    sms = Figure("sms: raw dispatch, no limit", "msg/s", [
        await measure(dispatcher_for(engine, senders, o.concurrency),
                      touches(Channel.SMS, o.messages), 500)
        for _ in range(o.repeats)
    ])  # fmt: skip
    record(sms, None, "")
    for channel, name in ((Channel.EMAIL, "smtp"), (Channel.SMS, "sms")):
        limiter = SqlRateLimiter(engine, f"bench-{name}", o.limit)
        d = dispatcher_for(engine, senders, o.concurrency, {channel: limiter})
        n = max(int(o.limit * 3), 50)
        figure = Figure(f"{name}: limited to {o.limit:,.0f}/s", "msg/s", [
            await measure(d, touches(channel, n), 500) for _ in range(o.repeats)
        ])  # fmt: skip
        record(figure, None, f"  = {figure.median / o.limit:.1%} of the limit")


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench notifier", description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--limit", type=float, default=200.0, help="provider limit, msg/s")
    parser.add_argument("--repeats", type=int, default=3)
    service = NotifierSettings.model_fields  # the service's defaults, unless told otherwise
    parser.add_argument(
        "--concurrency", type=int, default=service["notifier_concurrency"].default,
        help="sends in flight (default: TRELLIS_NOTIFIER_CONCURRENCY's)",
    )  # fmt: skip
    parser.add_argument(
        "--smtp-pool", type=int, default=service["smtp_pool_size"].default,
        help="reused SMTP connections (default: TRELLIS_SMTP_POOL_SIZE's)",
    )  # fmt: skip
    parser.add_argument(
        "--ledger-rows",
        type=lambda v: tuple(int(x) for x in v.split(",")),
        default=(10_000, 1_000_000),
        help="pre-filled ledger sizes, comma-separated (CPU per message is measured at each)",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="the ledger on a throwaway PostgreSQL database (127.0.0.1:5432) instead of SQLite",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run the SMTP/SMS servers in this process (they then share its CPU)",
    )
    args = parser.parse_args(argv)
    options = Options(
        args.messages, args.limit, args.repeats, args.concurrency, args.smtp_pool,
        args.in_process, args.ledger_rows, args.postgres,
    )  # fmt: skip
    print(f"event loop: {event_loop_name()} (the notifier's, trellis.runtime.run_service)")
    run_service(main(options))
