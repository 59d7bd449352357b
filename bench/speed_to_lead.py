"""Speed to lead: demo request produced -> rep_call_reminder on trellis.reminders.v1 and, with
``--at-sink``, -> the reminder *received* by the rep's channel.

    python -m bench speed_to_lead [--rate 1000] [--seconds 15] [--demo-every 50]
                                  [--backend sqlite|postgresql|both]
                                  [--at-sink [--backlog 20000]]

Events at ``--rate`` per second (background engagement over 5,000 contacts, every
``--demo-every``-th a demo request from a new contact) through the real orchestrator (consumer +
``dispatch-due-touches`` scheduler, woken after each committed batch) on the embedded broker;
the producer and the probe reading trellis.reminders.v1 run in a separate process.
The clock starts on a Wednesday at noon UTC and runs at wall speed, so the reminder is inside
the rep's working hours. ``--at-sink`` (``bench.reminder_sinks``) also runs the notifier in a
process of its own, queues ``--backlog`` marketing emails on trellis.touches.v1 before the load,
and times each reminder to its arrival at a local SMTP server (the email rep) or a Slack-style
webhook (the Slack rep) while that backlog drains. Prints p50/p99/max per backend, the topic
figure as the same run's baseline (target: p99 < 1 s), and writes
``bench/results/speed_to_lead[-at-sink].json``. ``--notifier-db``: ``default`` as
``TRELLIS_NOTIFIER_DATABASE_URL`` unset (a file of its own on SQLite, the same database on
PostgreSQL), ``shared`` (the orchestrator's, to see what sharing costs) or ``own`` (a new one).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from bench import reminder_sinks as sinks
from bench.orchestrator import _drop, _fresh_database, world
from schemas.topics import REMINDERS, engagement_topic
from services.notifier.settings import NotifierDatabase
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import EmbeddedBroker, free_port
from trellis.kafka import ensure_topics, make_consumer, make_producer
from trellis.migrate import upgrade_async
from trellis.runtime import run_service

BASE = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: inside rep hours
RESULTS = Path(__file__).parent / "results"
CHANNELS = ("all", "email", "slack")


HAND_RAISE = engagement_topic("demo_requested")  # where ingest publishes a demo request


def _demo(i: int, tag: str) -> bytes:
    return orjson.dumps({
        "id": f"demo-{tag}-{i}", "type": "demo_requested", "source": "bench",
        "time": BASE.isoformat(),
        "contact": {"external_id": f"lead-{tag}-{i}", "email": f"lead{i}@{tag}.example",
                    "traits": {"role": "executive"}},
        "account": {"external_id": f"lead-acc-{tag}-{i}", "domain": f"l{i}.{tag}.example"},
        "properties": {},
    })  # fmt: skip


@dataclass
class Load:
    """What the load process did: when each demo request was produced and its reminder seen
    (``time.monotonic()`` is one clock for every process on the machine)."""

    sent: dict[str, float]
    seen: dict[str, float]
    events: int
    produced_s: float
    error: str | None = None
    reminders: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """touch id -> (demo id, the lead's email, rep), as read on trellis.reminders.v1."""


def _load_process(bootstrap: str, tag: str, args: argparse.Namespace, out: Connection) -> None:
    """The producer and the probe, in a process of their own like any real event source: on a
    2-core machine, sharing the orchestrator's event loop added their CPU to its latency."""
    try:
        out.send(asyncio.run(_load(bootstrap, tag, args)))
    except BaseException as exc:  # the parent must hear about it, not wait forever
        out.send(Load({}, {}, 0, 0.0, f"{type(exc).__name__}: {exc}"))


def _demo_of(email: str, tag: str) -> str | None:
    """The demo request's id from its lead's email (``lead<i>@<tag>.example``)."""
    name, _, domain = email.partition("@")
    if domain != f"{tag}.example" or not name.startswith("lead"):
        return None
    return f"demo-{tag}-{name.removeprefix('lead')}"


async def _load(bootstrap: str, tag: str, args: argparse.Namespace) -> Load:
    settings = OrchestratorSettings(kafka_bootstrap=bootstrap, kafka_idempotence=False)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    reminders: dict[str, tuple[str, str, str]] = {}
    consumer = make_consumer(settings, REMINDERS, group_id=f"stl-probe-{tag}", fetch_max_wait_ms=10)
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
                    email = str(cmd["variables"].get("contact", {}).get("email") or "")
                    if cmd["channel"] == "rep_call_reminder" and (eid := _demo_of(email, tag)):
                        seen.setdefault(eid, at)
                        reminders[cmd["touch_id"]] = (eid, email, cmd["to"])
            if produced.is_set() and sent.keys() <= seen.keys():
                all_seen.set()

    watcher = asyncio.create_task(watch())
    try:
        # warm up: the groups join and the first reminder goes through
        await producer.send_and_wait(HAND_RAISE, _demo(-1, tag), key=b"warm")
        deadline = time.monotonic() + 60
        while f"demo-{tag}--1" not in seen or not await sinks.arrived(args.received_url, reminders):
            if time.monotonic() > deadline:
                raise RuntimeError("warm-up reminder never arrived")
            await asyncio.sleep(0.05)
        background = world(args.rate * args.seconds, 5000, seed=11)
        topics = [engagement_topic(orjson.loads(p)["type"]) for p in background]  # as ingest
        per_tick = max(1, args.rate // 100)  # bursts every 10 ms
        start, n, demos = time.monotonic(), 0, 0
        while n < len(background):
            for _ in range(per_tick):
                if n % args.demo_every == 0:
                    demos += 1
                    payload, key = _demo(demos, tag), f"lead-{demos}".encode()
                    topic = HAND_RAISE
                    sent[f"demo-{tag}-{demos}"] = time.monotonic()
                else:
                    payload = background[n].replace(b'"bench-', f'"bg-{tag}-'.encode())
                    key, topic = b"acc-" + str(n % 1000).encode(), topics[n]
                await producer.send(topic, payload, key=key)
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
    return Load(sent, seen, n, produced_s, reminders=reminders)


async def one_backend(
    broker: EmbeddedBroker, backend: str, args: argparse.Namespace
) -> dict[str, Any]:
    url, dbname = await _fresh_database(backend)
    ledger = await _ledger_database(backend, url, args.notifier_db)
    tag = uuid.uuid4().hex[:6]
    side = (
        sinks.RepSide(broker.bootstrap, ledger[0], tag, args.marketing_rate)
        if args.at_sink
        else None
    )
    own: dict[str, Any] = {"orchestrator_rep_pool": "rep@bench.example"}
    try:
        for db_url in {url, ledger[0]}:
            await upgrade_async(db_url)
        if side is not None:  # the rep's channels, a queued marketing backlog, the notifier
            side.start_sinks()
            await sinks.queue_marketing(
                OrchestratorSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False),
                args.backlog, tag,
            )  # fmt: skip
            side.start_notifier()
            args.received_url = side.received_url
            nurture = sinks.nurture_with_reps(Path(tempfile.mkdtemp()) / "nurture.yaml")
            own = {"orchestrator_rep_pool": sinks.REPS, "nurture": nurture}
        t0 = time.monotonic()
        settings = OrchestratorSettings(
            kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, database_url=url,
            orchestrator_group=f"stl-{tag}", orchestrator_scheduler_interval_s=1.0, **own,
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
                if side is not None:
                    side.check_alive()
                if not loader.is_alive() and not receive.poll():
                    raise SystemExit(f"the load process died (exit code {loader.exitcode})")
                if orch.done():
                    orch.result()  # raises what stopped the orchestrator
                    raise SystemExit("the orchestrator stopped during the run")
            load: Load = receive.recv()
            if load.error is not None:
                raise SystemExit(f"load process failed: {load.error}")
            got = await sinks.wait_for_arrivals(side, load.reminders, 30) if side else None
        finally:
            stop.set()
            await orch
            loader.join(10)
    finally:
        if side is not None:
            side.stop()
        await _drop(dbname)
        await _drop(ledger[1])
    return _report(backend, load, got, args)


async def _ledger_database(backend: str, url: str, choice: str) -> tuple[str, str | None]:
    """The notifier's database: where TRELLIS_NOTIFIER_DATABASE_URL's default puts it (a file of
    its own on SQLite, the same database on PostgreSQL), the orchestrator's, or a new one."""
    if choice == "own":
        return await _fresh_database(backend)
    if choice == "shared":
        return url, None
    return NotifierDatabase(database_url=url).resolved_database_url, None


def _report(
    backend: str, load: Load, got: dict[str, Any] | None, args: argparse.Namespace
) -> dict[str, Any]:
    """Prints the figures; returns them for the JSON file."""
    lat = [load.seen[e] - load.sent[e] for e in load.sent if e in load.seen]
    figures: dict[str, Any] = {
        "backend": backend, "events": load.events, "ev_per_s": load.events / load.produced_s,
        "demo_requests": len(load.sent), "without_reminder": len(load.sent) - len(lat),
        "on_topic": sinks.latency(lat),
    }  # fmt: skip
    print(
        f"{backend}: {load.events:,} events in {load.produced_s:.1f}s "
        f"({figures['ev_per_s']:,.0f} ev/s), "
        f"{len(load.sent)} demo requests, {figures['without_reminder']} without a reminder"
    )
    rows = [("demo request -> on trellis.reminders.v1 (baseline)", figures["on_topic"])]
    if got is not None:
        at = figures["at_sink"] = sinks.sink_figures(
            got, load.sent, load.seen, load.reminders, args.backlog
        )
        rows += [(f"demo request -> received by the rep, {k}", at[k]) for k in CHANNELS]
        rows.append(("on the topic -> received (the notifier's share)", at["topic_to_rep"]))
    base = figures["on_topic"]["p99_ms"]
    for name, f in rows:
        print(
            f"{backend}: {name:<51} n {f['n']:4d}"
            f"  p50 {f['p50_ms']:6.0f} ms  p99 {f['p99_ms']:6.0f} ms  max {f['max_ms']:6.0f} ms"
            f"  p99 ratio {f['p99_ms'] / base:5.2f}x  (target p99 < 1000 ms)"
        )
    if got is not None:
        print(f"{backend}: {sinks.backlog_words(figures['at_sink'])}")
    return figures


async def main(args: argparse.Namespace, backends: Sequence[str]) -> None:
    mode = f", at the rep with {args.backlog:,} marketing emails queued" if args.at_sink else ""
    print(f"\nSpeed to lead at {args.rate:,} ev/s for {args.seconds}s (embedded broker{mode})")
    results = []
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
            results.append(await one_backend(broker, backend, args))
        finally:
            broker.stop()
    out = RESULTS / ("speed_to_lead-at-sink.json" if args.at_sink else "speed_to_lead.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps({
        "at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "rate": args.rate,
        "seconds": args.seconds, "demo_every": args.demo_every, "backends": results,
        "backlog": args.backlog if args.at_sink else 0, "notifier_db": args.notifier_db,
        "marketing_rate": args.marketing_rate,
        "note": "one run on a shared machine: figures vary between runs",
    }, option=orjson.OPT_INDENT_2))  # fmt: skip
    print(f"wrote {out}")


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench speed_to_lead", description=__doc__)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--demo-every", type=int, default=50)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--at-sink", action="store_true", help="time the reminder to the rep's SMTP / Slack sink"
    )
    parser.add_argument("--backlog", type=int, default=20_000, help="queued marketing emails")
    parser.add_argument(
        "--notifier-db", choices=["default", "shared", "own"], default="default",
        help="--at-sink: the notifier's ledger where its setting puts it by default (own file on "
        "SQLite, same database on PostgreSQL), in the orchestrator's database, or a new one",
    )  # fmt: skip
    parser.add_argument(
        "--marketing-rate", type=float, default=None,
        help="--at-sink: the email provider's limit in emails/s (TRELLIS_SMTP_RATE_PER_S) the "
        "backlog drains at; unset: as fast as the notifier can",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.received_url = None
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    run_service(main(args, backends))  # the orchestrator's event loop (trellis.runtime)
