"""Historical import: ``trellis import``'s read + publish rate, and the historical events/s the
orchestrator applies into the database, against the same events applied live (default
playbook and nurture plan: touches planned) in the same run, and the orchestrator bench's
serial raw bound (consume + decode, then a bare batched upsert) measured alongside.

    python -m bench import [--events N] [--contacts K] [--backend postgresql|sqlite|both]
                           [--processes 2]

Each repeat applies the whole history to a fresh database (the inbox would skip it otherwise);
history and the live baseline sit on two embedded brokers, so neither consumer sees the other's
records. On PostgreSQL it then drains the same history with separate ``trellis orchestrator``
processes, one alone and ``--processes`` (2) in one consumer group, as a team scales out, and
the live baseline with that many too: the history is partitioned by account, so each process
applies its partitions' share (two processes == one, a tested guarantee). Writes
``bench/results/import.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

from bench.common import Figure
from bench.orchestrator import (
    _drop,
    _fresh_database,
    decode_rate,
    orchestrator_rate,
    upsert_rate,
)
from bench.processes import Service
from console.history_import import publish_history
from console.history_read import in_order, read_history
from schemas.topics import ENGAGEMENT
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import EmbeddedBroker, free_port
from trellis.kafka import ensure_topics, make_producer
from trellis.migrate import upgrade_async

RESULTS = Path(__file__).parent / "results" / "import.json"
KINDS = [  # valid as ingest validates them (``trellis import`` refuses what ingest refuses)
    ("page_viewed", {"path": "/blog/x"}),
    ("page_viewed", {"path": "/pricing"}),
    ("content_downloaded", {"content_id": "a", "content_type": "ebook"}),
    ("webinar_registered", {"webinar_id": "w"}),
    ("webinar_attended", {"webinar_id": "w"}),
    ("email_opened", {}),
    ("email_clicked", {"url": "https://example.com/x"}),
]


def history(events: int, contacts: int, days: int = 730, seed: int = 11) -> list[bytes]:
    """JSON lines of our envelopes spread over ``days`` up to now (two years by default)."""
    rnd = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=days)
    step = timedelta(days=days) / events
    out = []
    for i in range(events):
        c = rnd.randrange(contacts)
        kind, props = KINDS[rnd.randrange(len(KINDS))]
        out.append(orjson.dumps({
            "id": f"hist-{i}", "type": kind, "source": "warehouse",
            "time": (start + step * i).isoformat(),
            "contact": {"external_id": f"u-{c}", "email": f"p{c}@co{c // 5}.example",
                        "traits": {"role": ["technical", "finance", "executive"][c % 3]}},
            "account": {"external_id": f"acc-{c // 5}", "domain": f"co{c // 5}.example"},
            "properties": props,
        }))  # fmt: skip
    return out


async def _broker(tmp: Path, name: str) -> EmbeddedBroker:
    broker = EmbeddedBroker("127.0.0.1", free_port(), log_path=tmp / f"{name}.log")
    await broker.start()
    await ensure_topics(_settings(broker), partitions=6)
    return broker


def _settings(broker: EmbeddedBroker) -> OrchestratorSettings:
    return OrchestratorSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)


async def _applied(broker: EmbeddedBroker, backend: str, total: int) -> float:
    url, name = await _fresh_database(backend)
    try:
        await upgrade_async(url)
        settings = OrchestratorSettings(
            kafka_bootstrap=broker.bootstrap, kafka_idempotence=False, database_url=url,
            orchestrator_group=uuid.uuid4().hex,
        )  # fmt: skip
        rate, _probe = await orchestrator_rate(settings, total)  # the probe: bench orchestrator's
        return rate
    finally:
        await _drop(name)


async def _applied_by_processes(
    broker: EmbeddedBroker, total: int, processes: int, logs: Path
) -> tuple[float, float]:
    """Events/s and CPU µs an event (all the processes together) of ``processes`` separate
    ``trellis orchestrator`` processes in one group, as a team scales out, draining the history
    into a fresh PostgreSQL database (on SQLite exactly one orchestrator may run). Measured from
    the first applied event to the last, like the one-process figure."""
    url, name = await _fresh_database("postgresql")
    trellis = str(Path(sys.executable).parent / "trellis")
    env = dict(os.environ, TRELLIS_KAFKA_BOOTSTRAP=broker.bootstrap, TRELLIS_DATABASE_URL=url,
               TRELLIS_KAFKA_IDEMPOTENCE="false", TRELLIS_OPS_SERVE="false",
               TRELLIS_ORCHESTRATOR_GROUP=uuid.uuid4().hex)  # fmt: skip
    team = [Service(f"orchestrator-{i}", [trellis, "orchestrator"], env, logs)
            for i in range(processes)]  # fmt: skip
    conn: asyncpg.Connection | None = None
    try:
        await upgrade_async(url)
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        for member in team:
            member.start()
        first: tuple[float, int, float] | None = None
        deadline = time.monotonic() + 600
        while True:
            count = await conn.fetchval("SELECT count(*) FROM inbox")
            now = time.perf_counter()
            if count and first is None:
                first = (now, count, sum(m.cpu() for m in team))
            if count >= total:
                break
            for m in team:
                if m.process is not None and m.process.poll() is not None:
                    raise RuntimeError(f"{m.name} exited:\n{m.log_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count:,} of {total:,} applied in 600 s")
            await asyncio.sleep(0.05)
        assert first is not None
        applied = total - first[1]
        cpu = sum(m.cpu() for m in team) - first[2]
        return applied / max(now - first[0], 1e-6), cpu / applied * 1e6
    finally:
        for member in team:
            member.stop()
        if conn is not None:
            await conn.close()
        await _drop(name)


async def main(
    events: int, contacts: int, backends: list[str], repeats: int, processes: int = 2
) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp())
    lines = history(events, contacts)
    past, live = await _broker(tmp, "history"), await _broker(tmp, "live")
    report: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "events": events, "contacts": contacts, "span_days": 730,
    }  # fmt: skip
    try:
        past_settings = OrchestratorSettings(
            kafka_bootstrap=past.bootstrap, kafka_idempotence=False
        )
        started = time.perf_counter()
        read = read_history(lines, "warehouse")
        assert not read.invalid, read.invalid[:3]
        published = await publish_history(past_settings, in_order(read.events), len(read.events))
        import_rate = events / (time.perf_counter() - started)
        print(f"\nHistorical import: {events:,} events over {contacts:,} contacts, two years")
        print(f"trellis import (read, validate, sort, publish) {import_rate:>12,.0f} ev/s "
              f"(publish alone {published.events / published.seconds:,.0f} ev/s)")  # fmt: skip
        report["trellis_import_ev_s"] = round(import_rate)
        producer = make_producer(_settings(live))
        await producer.start()
        try:
            for e in in_order(read.events):
                await producer.send(ENGAGEMENT, e.model_dump_json().encode(),
                                    key=e.partition_key().encode())  # fmt: skip
            await producer.flush()
        finally:
            await producer.stop()
        for backend in backends:
            hist, base, dec, ups = [], [], [], []
            for n in range(repeats):  # interleaved, alternating who goes first: same load
                for broker, runs in [(past, hist), (live, base)][:: 1 if n % 2 == 0 else -1]:
                    runs.append(await _applied(broker, backend, events))
                dec.append(await decode_rate(past_settings, ENGAGEMENT, events))
                url, name = await _fresh_database(backend)
                try:
                    await upgrade_async(url)
                    ups.append(await upsert_rate(url, contacts))
                finally:
                    await _drop(name)
            team: dict[int, list[tuple[float, float]]] = {}  # processes -> (ev/s, CPU µs/ev)
            live_team: list[tuple[float, float]] = []  # the same events live, the team
            if backend == "postgresql" and processes > 1:
                for _ in range(repeats):  # interleaved: one process, then the team
                    for n in (1, processes):
                        runs = team.setdefault(n, [])
                        runs.append(await _applied_by_processes(past, events, n, tmp))
                    live_team.append(await _applied_by_processes(live, events, processes, tmp))
            baseline = Figure(f"{backend}: the same events live (baseline)", "ev/s", base)
            applied = Figure(f"{backend}: historical events applied", "ev/s", hist)
            serial = 1 / (1 / statistics_median(dec) + 1 / statistics_median(ups))
            print(baseline.line())
            print(applied.line(baseline))
            print(f"{backend}: serial raw bound (decode then upsert) {serial:>12,.0f} ev/s; "
                  f"historical = {applied.median / serial:.1%} of it; target 20,000")  # fmt: skip
            scaled: dict[str, object] = {}
            if team:
                one = Figure(f"{backend}: historical, 1 `trellis orchestrator` process", "ev/s",
                             [r for r, _ in team[1]])  # fmt: skip
                out = Figure(f"{backend}: historical, {processes} processes in one group", "ev/s",
                             [r for r, _ in team[processes]])  # fmt: skip
                print(one.line())
                print(out.line(one))
                for n, runs in team.items():
                    print(f"{backend}: {n} process(es), CPU us/event of all together: "
                          + ", ".join(f"{c:.0f}" for _, c in runs))  # fmt: skip
                both = Figure(f"{backend}: the same events live, {processes} processes", "ev/s",
                              [r for r, _ in live_team])  # fmt: skip
                print(both.line(baseline))
                print(f"{backend}: live, {processes} processes, CPU us/event of all together: "
                      + ", ".join(f"{c:.0f}" for _, c in live_team))  # fmt: skip
                scaled = {
                    "processes": processes,
                    "one_process_ev_s": [round(r) for r, _ in team[1]],
                    "historical_ev_s": [round(r) for r, _ in team[processes]],
                    "historical_median_ev_s": round(out.median),
                    "ratio_to_one_process": round(out.median / one.median, 3),
                    "cpu_us_per_event": {n: [round(c, 1) for _, c in runs]
                                         for n, runs in team.items()},
                    "live_ev_s": [round(r) for r, _ in live_team],
                    "live_cpu_us_per_event": [round(c, 1) for _, c in live_team],
                }  # fmt: skip
            report[backend] = {
                "historical_ev_s": [round(x) for x in hist],
                "live_baseline_ev_s": [round(x) for x in base],
                "historical_median_ev_s": round(applied.median),
                "live_median_ev_s": round(baseline.median),
                "ratio_to_live": round(applied.median / baseline.median, 3),
                "consume_decode_ev_s": [round(x) for x in dec],
                "bare_upsert_rows_s": [round(x) for x in ups],
                "serial_raw_bound_ev_s": round(serial),
                "target_ev_s": 20_000,
                "scaled_out": scaled or None,
            }
    finally:
        past.stop()
        live.stop()
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return report


def statistics_median(values: Sequence[float]) -> float:
    return Figure("", "", list(values)).median


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench import", description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=2_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="postgresql")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="PostgreSQL: also drain the history with this many `trellis orchestrator` "
        "processes in one group (1: skip)",
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    asyncio.run(main(args.events, args.contacts, backends, args.repeats, args.processes))
