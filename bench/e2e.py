"""End to end: the whole stack as separate processes under a bounded load from the demo world.

    python -m bench e2e [--events 30000] [--rate R] [--latency-seconds 30]
    python -m bench e2e --events 1000000        # the "after 1M events" memory run (about an
                                                # hour at the ~250-700 ev/s measured here)

Embedded broker (Tansu), ``trellis ingest`` (uvicorn), ``trellis orchestrator`` and ``trellis
notifier`` as child processes, a fresh PostgreSQL database on 127.0.0.1:5432 (dropped after), the
``chaos.sinks`` SMTP/SMS servers (no faults) as the providers. Phases:

1. ingest alone (orchestrator and notifier not started): 10% of ``--events`` (10k-50k) at
   full speed: the ingest tier's own throughput;
2. orchestrator + notifier start and drain that backlog;
3. the rest of ``--events`` at full speed through the whole stack: end-to-end throughput (first
   POST to the last event in the inbox) and its ratio to phase 1 (target >= 75%);
4. ``--latency-seconds`` at ``--rate`` ev/s (default: half of phase 3's end-to-end rate, so the
   stack is not saturated) with a fresh demo request every second: event ->
   inbox row latency (polled) and demo request -> rep call reminder latency (on
   trellis.reminders.v1, and received by the rep's channel: the SMTP sink, while the marketing
   email of phases 1-3 may still be draining on trellis.touches.v1).

RSS and CPU of every process are sampled each second; RSS growth per 100k events is a linear fit
of RSS against events applied, after the first 20%. The run uses a copy of the default nurture
plan with the send windows open 24/7 and each sequence's first step due at stage entry (shipped:
an hour later), so touches flow during the run and the figures do not depend on the wall clock.
Writes ``bench/results/e2e[-N].md``, ``.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import yaml

from bench.client import IngestClient
from bench.e2e_report import Figures, Sample, write_report
from bench.stack import (
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
from chaos.sinks import read_received
from schemas.topics import ENGAGEMENT_TOPICS

BATCH = 200
SENDERS = 4
RESULTS = Path(__file__).parent / "results"


def open_windows_nurture(path: Path) -> Path:
    shipped = resources.files("services.orchestrator").joinpath("default_nurture.yaml")
    plan = yaml.safe_load(shipped.read_text())
    for name in plan["windows"]:
        plan["windows"][name] = {"days": list(range(7)), "start": "00:00"}
    for sequence in plan["sequences"]:
        sequence["steps"][0]["delay"] = "PT0S"  # the first touch is due at stage entry
    path.write_text(yaml.safe_dump(plan))
    return path


def batches(events: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(itertools.islice(events, size)):
        yield chunk


async def blast(client: IngestClient, events: Iterator[dict[str, Any]], total: int) -> float:
    """Send ``total`` events with ``SENDERS`` concurrent senders; returns seconds taken."""
    source = batches(itertools.islice(events, total), BATCH)
    done = 0
    start = time.perf_counter()

    async def sender() -> None:
        nonlocal done
        for batch in source:
            await client.send(batch)
            done += len(batch)
            if done % 10_000 < BATCH:
                print(f"  accepted {done:,}/{total:,}", flush=True)

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return time.perf_counter() - start


async def applied(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM inbox WHERE topic = ANY($1)", list(ENGAGEMENT_TOPICS)
        )
    )


async def wait_applied(conn: asyncpg.Connection, target: int, deadline_s: float) -> float:
    """Wait until ``target`` events are in the inbox; returns the perf_counter it happened."""
    end = time.monotonic() + deadline_s
    last = -1
    while (n := await applied(conn)) < target:
        if time.monotonic() > end:
            raise RuntimeError(f"only {n:,}/{target:,} events applied after {deadline_s}s")
        if n // 10_000 != last // 10_000:
            print(f"  applied {n:,}/{target:,}", flush=True)
        last = n
        await asyncio.sleep(0.5)  # count(*) on a growing inbox: cheap, but not free
    return time.perf_counter()


def demo_request(tag: str, i: int) -> dict[str, Any]:
    return {
        "id": f"{tag}-lead-{i}", "type": "demo_requested", "source": "bench",
        "time": utc_now().isoformat(),
        "contact": {"external_id": f"{tag}-lead-{i}", "email": f"lead{i}@{tag}-l{i}.example",
                    "traits": {"role": "executive", "timezone": "Europe/London"}},
        "account": {"external_id": f"{tag}-lead-acc-{i}", "domain": f"{tag}-l{i}.example"},
        "properties": {"notes": "bench"},
    }  # fmt: skip


async def latency_phase(
    client: IngestClient,
    conn: asyncpg.Connection,
    events: Iterator[dict[str, Any]],
    rate: int,
    seconds: float,
    tag: str,
) -> tuple[list[float], dict[str, float]]:
    """Paced load; returns (event -> inbox latencies of a sample, demo id -> ack time)."""
    pending: dict[str, float] = {}
    latencies: list[float] = []
    demos: dict[str, float] = {}
    per_batch = max(1, rate // 20)  # 20 POSTs a second
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set() or pending:
            if pending:
                rows = await conn.fetch(
                    "SELECT event_id FROM inbox WHERE event_id = ANY($1)", list(pending)
                )
                at = time.time()
                for r in rows:
                    latencies.append(at - pending.pop(r["event_id"]))
            await asyncio.sleep(0.02)

    poller = asyncio.create_task(poll())
    start = time.perf_counter()
    sent = 0
    try:
        while (elapsed := time.perf_counter() - start) < seconds:
            batch = list(itertools.islice(events, per_batch))
            if int(elapsed) >= len(demos):
                batch.append(demo_request(tag, len(demos)))
            at = await client.send(batch)
            pending[batch[0]["id"]] = at
            if batch[-1]["type"] == "demo_requested" and "-lead-" in batch[-1]["id"]:
                demos[batch[-1]["id"]] = at
            sent += len(batch)
            ahead = start + sent / rate - time.perf_counter()
            if ahead > 0:
                await asyncio.sleep(ahead)
    finally:
        stop.set()
        await asyncio.wait_for(poller, 60)
    return latencies, demos


async def sample(stack: Stack, dsn: str, out: list[Sample], stop: asyncio.Event) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            n = await applied(conn)
            rss = {name: s.rss() for name, s in stack.services.items()}
            cpu = {name: s.cpu() for name, s in stack.services.items()}
            out.append(Sample(time.time(), n, rss, cpu))
            await asyncio.sleep(1.0)
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> Figures:
    workdir = Path(tempfile.mkdtemp(prefix="trellis-e2e-"))
    dbname, direct = await create_database()
    tag = uuid.uuid4().hex[:6]
    stack = Stack.build(workdir, pg_url(dbname, 5432), {})
    received = workdir / "received.jsonl"
    sinks, smtp_port, http_port = sinks_service(stack, received)
    stack.env.update({
        "TRELLIS_SMTP_HOST": "127.0.0.1", "TRELLIS_SMTP_PORT": str(smtp_port),
        "TRELLIS_SMS_BASE_URL": f"http://127.0.0.1:{http_port}",
        "TRELLIS_NURTURE": str(open_windows_nurture(workdir / "nurture.yaml")),
        "TRELLIS_INGEST_SOURCE_CACHE_S": "60",
    })  # fmt: skip
    samples: list[Sample] = []
    stop = asyncio.Event()
    probe = TouchProbe(stack.broker.bootstrap)
    conn: asyncpg.Connection | None = None
    client: IngestClient | None = None
    try:
        print(f"e2e: workdir {workdir}, database {dbname}", flush=True)
        key = await prepare(stack, direct, partitions=6)
        sinks.start()
        sinks.wait_for_port(http_port)
        stack.start("ingest")
        conn = await asyncpg.connect(asyncpg_dsn(dbname))
        client = IngestClient(stack.ingest_url, key)
        sampler = asyncio.create_task(sample(stack, asyncpg_dsn(dbname), samples, stop))
        events = itertools.chain.from_iterable(world_chunks(10**9, 11, tag, utc_now()))
        first = min(50_000, max(10_000, args.events // 10))
        rest = args.events - first
        print(f"phase 1: ingest alone, {first:,} events", flush=True)
        cpu0 = cpu_now(stack)
        ingest_s = await blast(client, events, first)
        cpu1 = cpu_now(stack)
        print(f"  ingest alone: {first / ingest_s:,.0f} ev/s", flush=True)
        print("phase 2: orchestrator + notifier start, drain the backlog", flush=True)
        await probe.start()
        t = time.perf_counter()
        stack.start("orchestrator")
        stack.start("notifier")
        drained = await wait_applied(conn, first, 600)
        drain_rate = first / (drained - t)
        print(f"  drained at {drain_rate:,.0f} ev/s (includes start-up)", flush=True)
        print(f"phase 3: end to end, {rest:,} events at full speed", flush=True)
        cpu2 = cpu_now(stack)
        t3 = time.perf_counter()
        accept_s = await blast(client, events, rest)
        done = await wait_applied(conn, args.events, 3600)
        e2e_s = done - t3
        cpu3 = cpu_now(stack)
        print(f"  end to end: {rest / e2e_s:,.0f} ev/s", flush=True)
        rate = args.rate or max(20, int(rest / e2e_s / 2))
        print(f"phase 4: {args.latency_seconds}s at {rate} ev/s", flush=True)
        lat, demos = await latency_phase(client, conn, events, rate, args.latency_seconds, tag)
        await asyncio.sleep(5)  # the last reminders
        stop.set()
        await sampler
        return Figures(
            events=args.events, phase1_events=first, ingest_alone_eps=first / ingest_s,
            drain_eps=drain_rate,
            accepted_eps=rest / accept_s, e2e_eps=rest / e2e_s, latency_s=lat,
            demos=demos, probe_seen=dict(probe.first_seen), commands=dict(probe.commands),
            received=read_received(received), samples=samples,
            cpu_phase1={k: cpu1[k] - cpu0.get(k, 0) for k in cpu1}, phase1_s=ingest_s,
            cpu_phase3={k: cpu3[k] - cpu2.get(k, 0) for k in cpu3}, phase3_s=e2e_s,
            retries=dict(client.retries), rate=rate, latency_seconds=args.latency_seconds,
        )  # fmt: skip
    finally:
        stop.set()
        await probe.stop()
        if client is not None:
            await client.aclose()
        if conn is not None:
            await conn.close()
        stack.stop_all()
        stack.broker.stop()
        await drop_database(dbname)


def cpu_now(stack: Stack) -> dict[str, float]:
    return {name: s.cpu() for name, s in stack.services.items()}


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench e2e", description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument(
        "--rate", type=int, default=0, help="ev/s in phase 4 (0: half the phase-3 throughput)"
    )
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=None, help="results file stem")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args))
    stem = args.out or RESULTS / ("e2e" if args.events == 30_000 else f"e2e-{args.events}")
    print(write_report(figures, stem))
