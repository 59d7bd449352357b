"""The chaos run: the whole stack under a stream of events while processes are killed, the
database and the providers fail, and poison messages arrive; then the invariants are checked."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import yaml

from bench.client import IngestClient
from bench.stack import (
    PG_HOST,
    PG_PORT,
    Stack,
    TouchProbe,
    asyncpg_dsn,
    create_database,
    drop_database,
    pg_url,
    prepare,
    sinks_service,
    utc_now,
    world_chunks,
)
from chaos.faults import Injector
from chaos.proxy import TcpProxy
from chaos.sinks import read_received
from chaos.verify import Report, check_database, check_dead_letters, check_messages
from schemas.topics import ENGAGEMENT_TOPICS
from trellis.broker import free_port

SERVICES = ("ingest", "orchestrator", "notifier")


def chaos_nurture(path: Path) -> Path:
    """The shipped nurture plan with each sequence's first step due at once and an SMS step
    first in the awareness sequence, so marketing email and SMS carry traffic within minutes
    (shipped: first steps an hour after stage entry; the only SMS a day into onboarding).
    Windows, caps and legal bases are the shipped ones."""
    shipped = resources.files("services.orchestrator").joinpath("default_nurture.yaml")
    plan = yaml.safe_load(shipped.read_text())
    for sequence in plan["sequences"]:
        sequence["steps"][0]["delay"] = "PT0S"  # due at once: a run lasts minutes, not hours
        if sequence["id"] == "awareness-education":
            sequence["steps"].insert(0, {
                "id": "chaos-sms", "channel": "sms", "template": "onboarding/kickoff_sms",
                "delay": "PT0S",
            })  # fmt: skip
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def chaos_events(tag: str) -> Iterator[dict[str, Any]]:
    """The demo world, every contact with a phone number (so SMS touches happen too)."""
    phones: dict[str, str] = {}
    for chunk in world_chunks(10**9, 23, tag, utc_now(), chunk_accounts=100):
        for e in chunk:
            ext = e["contact"]["external_id"]
            phone = phones.setdefault(ext, f"+1555{len(phones):07d}")
            e["contact"]["traits"] = {**e["contact"].get("traits", {}), "phone": phone}
            yield e


async def stream(
    client: IngestClient, events: Iterator[dict[str, Any]], rate: float, seconds: float
) -> dict[str, dict[str, Any]]:
    """Batches of 20 at ``rate`` ev/s for ``seconds`` from two senders; every batch is retried
    until acknowledged. Returns the acknowledged events by id."""
    sent: dict[str, dict[str, Any]] = {}
    start = time.monotonic()
    issued = 0

    async def sender() -> None:
        nonlocal issued
        while time.monotonic() - start < seconds:
            batch = list(itertools.islice(events, 20))
            issued += len(batch)
            await client.send(batch)
            sent.update((e["id"], e) for e in batch)
            ahead = start + issued / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)

    await asyncio.gather(sender(), sender())
    return {i: sent[i] for i in client.acked}


async def watchdog(stack: Stack, unexpected: list[str], stop: asyncio.Event) -> None:
    """A supervisor: a service that exits on its own (not our SIGKILL) is logged and started
    again, as Kubernetes or systemd would."""
    while not stop.is_set():
        for name in SERVICES:
            proc = stack.services[name].process
            if proc is not None and proc.poll() is not None and proc.returncode != -9:
                tail = stack.services[name].log_text()[-400:].replace("\n", " | ")
                unexpected.append(f"{name} exited {proc.returncode}: ...{tail}")
                print(f"  {name} exited on its own ({proc.returncode}); restarting", flush=True)
                stack.services[name].start()
        await asyncio.sleep(0.5)


async def faults(injector: Injector, seconds: float, every: float) -> None:
    end = time.monotonic() + seconds
    for _, action in itertools.cycle(injector.rotation()):
        started = time.monotonic()
        if started + 1 > end:
            return
        await action()
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


async def settle(conn: asyncpg.Connection, acked: set[str], deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while True:
        rows = await conn.fetch(
            "SELECT event_id FROM inbox WHERE topic = ANY($1)", list(ENGAGEMENT_TOPICS)
        )
        missing = acked - {r["event_id"] for r in rows}
        if not missing or time.monotonic() > end:
            return
        await asyncio.sleep(0.5)


async def quiet(received: Path, probe: TouchProbe, quiet_s: float, deadline_s: float) -> None:
    """Until no new command or message has appeared for ``quiet_s``."""
    end = time.monotonic() + deadline_s
    last, since = (-1, -1), time.monotonic()
    while time.monotonic() < end:
        now = (len(read_received(received)), len(probe.first_seen))
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="trellis-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dbname, direct = await create_database()
    db = TcpProxy(free_port(), PG_HOST, PG_PORT)
    await db.start()
    stack = Stack.build(workdir, pg_url(dbname, db.listen_port), {})
    received = workdir / "received.jsonl"
    nurture = chaos_nurture(workdir / "nurture.yaml")
    sinks, smtp_port, http_port = sinks_service(stack, received)
    smtp, sms = (
        TcpProxy(free_port(), "127.0.0.1", smtp_port),
        TcpProxy(free_port(), "127.0.0.1", http_port),
    )
    stack.env.update({
        "TRELLIS_SMTP_HOST": "127.0.0.1", "TRELLIS_SMTP_PORT": str(smtp.listen_port),
        "TRELLIS_SMS_BASE_URL": f"http://127.0.0.1:{sms.listen_port}",
        "TRELLIS_INGEST_RETRY_AFTER_S": "1", "TRELLIS_INGEST_SOURCE_CACHE_S": "30",
        "TRELLIS_NOTIFIER_RETRY_MAX_S": "5",
        "TRELLIS_NURTURE": str(nurture),
    })  # fmt: skip
    probe = TouchProbe(stack.broker.bootstrap)
    stop = asyncio.Event()
    unexpected: list[str] = []
    client: IngestClient | None = None
    report = Report()
    try:
        print(f"chaos: workdir {workdir}, database {dbname} (via proxy :{db.listen_port})")
        key = await prepare(stack, direct, partitions=3)
        await smtp.start()
        await sms.start()
        sinks.start()
        sinks.wait_for_port(http_port)
        for name in SERVICES:  # in a thread, as the proxies on this loop must keep pumping
            await asyncio.to_thread(stack.start, name)
        await probe.start()
        injector = Injector(stack, db, smtp, sms, f"http://127.0.0.1:{http_port}/control",
                            outage_s=args.outage)  # fmt: skip
        client = IngestClient(stack.ingest_url, key)
        dog = asyncio.create_task(watchdog(stack, unexpected, stop))
        print(f"streaming {args.rate} ev/s for {args.seconds}s with a fault every {args.every}s")
        acked, _ = await asyncio.gather(
            stream(client, chaos_events(uuid.uuid4().hex[:6]), args.rate, args.seconds),
            faults(injector, args.seconds, args.every),
        )
        await injector.restore_all()
        print(f"stream done: {len(acked):,} events acknowledged; settling", flush=True)
        conn = await asyncpg.connect(asyncpg_dsn(dbname))
        try:
            await settle(conn, set(acked), args.settle)
            await quiet(received, probe, args.quiet, args.settle)
            stop.set()
            await dog
            external_of = await check_database(report, conn, acked, datetime.now(UTC))
        finally:
            await conn.close()
        check_messages(report, read_received(received), probe.commands, acked, external_of, nurture)
        await check_dead_letters(report, stack.broker.bootstrap, injector.poison)
        # In a thread: the database and provider proxies run on this event loop, and a service
        # stopping gracefully still talks to them (final commits, closing pooled connections).
        stopped = await asyncio.to_thread(stack.stop_all)
        print_summary(report, injector, client, unexpected, stopped, time.monotonic() - started)
        return 1 if report.failures else 0
    finally:
        stop.set()
        await probe.stop()
        if client is not None:
            await client.aclose()
        await asyncio.to_thread(stack.stop_all)
        stack.broker.stop()
        for proxy in (db, smtp, sms):
            await proxy.close()
        if args.keep_database:
            print(f"kept database {dbname} and {workdir}")
        else:
            await drop_database(dbname)


def print_summary(
    report: Report,
    injector: Injector,
    client: IngestClient,
    unexpected: list[str],
    stopped: dict[str, float | None],
    elapsed: float,
) -> None:
    print(f"\nchaos summary ({elapsed:.0f}s)")
    print("  faults injected:")
    for name, n in sorted(injector.counts.items()):
        print(f"    {name:<34} {n}")
    print(f"  producer retries: {dict(client.retries) or 'none'}")
    print(f"  service exits not caused by us (restarted): {len(unexpected)}")
    for line in unexpected[:5]:
        print(f"    {line[:300]}")
    stops = ", ".join(
        f"{n} {t:.1f}s" if t is not None else f"{n} did not stop in 10s (killed)"
        for n, t in stopped.items()
    )
    print(f"  graceful stop (SIGTERM) at the end: {stops}")
    print("  invariants and counts:")
    for name, n in report.counts.items():
        print(f"    {name:<48} {n}")
    if report.failures:
        print("\nFAILED:")
        for f in report.failures:
            print(f"  - {f}")
    else:
        print("\nall invariants hold: lost = 0, duplicates = 0")
