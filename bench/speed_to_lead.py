"""Speed to lead: demo request produced -> rep_call_reminder DispatchTouch on trellis.touches.v1.

    python -m bench speed_to_lead [--rate 1000] [--seconds 15] [--demo-every 50]
                                  [--backend sqlite|postgresql|both]

Events at ``--rate`` per second (background engagement over 5,000 contacts, every
``--demo-every``-th a demo request from a new contact) through the real orchestrator (consumer +
``dispatch-due-touches`` scheduler, woken after each committed batch) on the embedded broker;
the producer and the probe reading trellis.touches.v1 run in a separate process.
The clock starts on a Wednesday at noon UTC and runs at wall speed, so the reminder is inside
the rep's working hours. Prints latency p50/p99/max per backend (target: p99 < 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import orjson

from bench.orchestrator import _drop, _fresh_database, world
from schemas.topics import ENGAGEMENT, TOUCHES
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import EmbeddedBroker, free_port
from trellis.kafka import ensure_topics, make_consumer, make_producer
from trellis.migrate import upgrade_async

BASE = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: inside rep hours


def _demo(i: int, tag: str) -> bytes:
    return orjson.dumps({
        "id": f"demo-{tag}-{i}", "type": "demo_requested", "source": "bench",
        "time": BASE.isoformat(),
        "contact": {"external_id": f"lead-{tag}-{i}", "email": f"lead{i}@{tag}.example",
                    "traits": {"role": "executive"}},
        "account": {"external_id": f"lead-acc-{tag}-{i}", "domain": f"l{i}.{tag}.example"},
        "properties": {},
    })  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Load:
    """What the load process did: when each demo request was produced and its reminder seen
    (``time.monotonic()`` is one clock for every process on the machine)."""

    sent: dict[str, float]
    seen: dict[str, float]
    events: int
    produced_s: float
    error: str | None = None


def _load_process(bootstrap: str, tag: str, args: argparse.Namespace, out: Connection) -> None:
    """The producer and the probe, in a process of their own like any real event source: on a
    2-core machine, sharing the orchestrator's event loop added their CPU to its latency."""
    try:
        out.send(asyncio.run(_load(bootstrap, tag, args)))
    except BaseException as exc:  # the parent must hear about it, not wait forever
        out.send(Load({}, {}, 0, 0.0, f"{type(exc).__name__}: {exc}"))


async def _load(bootstrap: str, tag: str, args: argparse.Namespace) -> Load:
    settings = OrchestratorSettings(kafka_bootstrap=bootstrap, kafka_idempotence=False)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    consumer = make_consumer(settings, TOUCHES, group_id=f"stl-probe-{tag}", fetch_max_wait_ms=10)
    await consumer.start()
    producer = make_producer(settings)
    await producer.start()
    produced, all_seen, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=50)
            at = time.monotonic()
            for part in batch.values():
                for r in part:
                    cmd = orjson.loads(r.value)
                    if cmd["channel"] == "rep_call_reminder":
                        for eid in cmd["variables"].get("evidence", []):
                            seen.setdefault(eid, at)
            if produced.is_set() and sent.keys() <= seen.keys():
                all_seen.set()

    watcher = asyncio.create_task(watch())
    try:
        # warm up: the groups join and the first reminder goes through
        await producer.send_and_wait(ENGAGEMENT, _demo(-1, tag), key=b"warm")
        deadline = time.monotonic() + 60
        while f"demo-{tag}--1" not in seen:
            if time.monotonic() > deadline:
                raise RuntimeError("warm-up reminder never arrived")
            await asyncio.sleep(0.05)
        background = world(args.rate * args.seconds, 5000, seed=11)
        per_tick = max(1, args.rate // 100)  # bursts every 10 ms
        start, n, demos = time.monotonic(), 0, 0
        while n < len(background):
            for _ in range(per_tick):
                if n % args.demo_every == 0:
                    demos += 1
                    payload, key = _demo(demos, tag), f"lead-{demos}".encode()
                    sent[f"demo-{tag}-{demos}"] = time.monotonic()
                else:
                    payload = background[n].replace(b'"bench-', f'"bg-{tag}-'.encode())
                    key = b"acc-" + str(n % 1000).encode()
                await producer.send(ENGAGEMENT, payload, key=key)
                n += 1
            lag = start + n / args.rate - time.monotonic()
            if lag > 0:
                await asyncio.sleep(lag)
        produced_s = time.monotonic() - start
        produced.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_seen.wait(), 30)
    finally:
        done.set()
        await watcher
        await producer.stop()
        await consumer.stop()
    return Load(sent, seen, n, produced_s)


async def one_backend(broker: EmbeddedBroker, backend: str, args: argparse.Namespace) -> None:
    url, dbname = await _fresh_database(backend)
    tag = uuid.uuid4().hex[:6]
    try:
        await upgrade_async(url)
        t0 = time.monotonic()
        settings = OrchestratorSettings(
            kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, database_url=url,
            orchestrator_group=f"stl-{tag}", orchestrator_rep_pool="rep@bench.example",
            orchestrator_scheduler_interval_s=1.0,
        )  # fmt: skip
        stop = asyncio.Event()
        orch = asyncio.create_task(
            run(settings, stop, clock=lambda: BASE + timedelta(seconds=time.monotonic() - t0))
        )
        receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
        loader = multiprocessing.get_context("spawn").Process(
            target=_load_process, args=(broker.bootstrap, tag, args, send), daemon=True
        )
        loader.start()
        try:
            while not await asyncio.to_thread(receive.poll, 0.5):
                if orch.done():
                    orch.result()  # raises what stopped the orchestrator
                    raise SystemExit("the orchestrator stopped during the run")
            load: Load = receive.recv()
        finally:
            stop.set()
            await orch
            loader.join(10)
        if load.error is not None:
            raise SystemExit(f"load process failed: {load.error}")
        lat = [load.seen[e] - load.sent[e] for e in load.sent if e in load.seen]
        missing = len(load.sent) - len(lat)
        print(
            f"{backend}: {load.events:,} events in {load.produced_s:.1f}s "
            f"({load.events / load.produced_s:,.0f} ev/s), "
            f"{len(load.sent)} demo requests, {missing} without a reminder"
        )
        if lat:
            print(
                f"{backend}: demo request -> rep_call_reminder  p50 {_pct(lat, 0.5) * 1000:6.0f} ms"
                f"  p99 {_pct(lat, 0.99) * 1000:6.0f} ms  max {max(lat) * 1000:6.0f} ms"
                f"  mean {statistics.mean(lat) * 1000:6.0f} ms  (target p99 < 1000 ms)"
            )
    finally:
        await _drop(dbname)


async def main(args: argparse.Namespace, backends: Sequence[str]) -> None:
    print(f"\nSpeed to lead at {args.rate:,} ev/s for {args.seconds}s (embedded broker)")
    for backend in backends:  # a fresh broker each: a new group would replay the last backlog
        broker = EmbeddedBroker(
            "127.0.0.1", free_port(), log_path=Path(tempfile.mkdtemp()) / "tansu.log"
        )
        await broker.start()
        try:
            await ensure_topics(
                OrchestratorSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False),
                partitions=6,
            )
            await one_backend(broker, backend, args)
        finally:
            broker.stop()


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench speed_to_lead", description=__doc__)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--demo-every", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    asyncio.run(main(args, backends))
