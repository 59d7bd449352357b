"""Orchestrator throughput: events/s through the real consumer with the default playbook.

    python -m bench orchestrator [--events N] [--contacts K] [--backend sqlite|postgresql|both]
    python -m bench orchestrator --scale 10000,100000 [--backend ...]

The second form measures how the cost per event changes with the number of known contacts: it
seeds each database through the handler (no broker), then times batches hitting known contacts.

Against raw bounds measured in the same run on the same broker and database: consume + decode
alone, and a bare batched upsert of the same contact rows. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import asyncpg
import orjson
from sqlalchemy import func, select

from bench.common import Figure
from bench.orchestrator_probe import (
    ProcessCpu,
    ServerCpu,
    StatementCounter,
    hit_rate,
    report,
    write_result,
)
from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from services.orchestrator import main as orchestrator_main
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.tables import inbox
from services.orchestrator.domain.state import ContactState
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import EmbeddedBroker, free_port
from trellis.consumer import BatchConsumer, LoopPolicy, Record, Rejected
from trellis.db import create_engine
from trellis.kafka import ensure_topics, make_consumer, make_producer
from trellis.migrate import upgrade_async
from trellis.runtime import run_service

KINDS = [
    ("page_viewed", {"path": "/blog/x"}),
    ("page_viewed", {"path": "/pricing"}),
    ("content_downloaded", {"asset": "a", "content_type": "ebook"}),
    ("webinar_registered", {"webinar": "w"}),
    ("webinar_attended", {"webinar": "w"}),
    ("email_opened", {}),
    ("email_clicked", {}),
]
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def world(
    events: int, contacts: int, seed: int = 7, spread: bool = True, start: datetime = T0
) -> list[bytes]:
    """Events for random contacts (``spread=False``: event i is for contact i)."""
    rnd = random.Random(seed)
    out = []
    for i in range(events):
        c = rnd.randrange(contacts) if spread else i
        kind, props = KINDS[rnd.randrange(len(KINDS))]
        out.append(
            orjson.dumps(
                {
                    "id": f"bench-{i}",
                    "type": kind,
                    "source": "bench",
                    "time": (start + timedelta(minutes=i)).isoformat(),
                    "contact": {
                        "external_id": f"u-{c}",
                        "email": f"p{c}@co{c // 5}.example",
                        "traits": {"role": ["technical", "finance", "executive"][c % 3]},
                    },
                    "account": {"external_id": f"acc-{c // 5}", "domain": f"co{c // 5}.example"},
                    "properties": props,
                }
            )
        )
    return out


async def _fresh_database(backend: str) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db", None
    name = f"trellis_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1/{name}", name


async def _drop(name: str | None) -> None:
    if name:
        admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def orchestrator_rate(
    settings: OrchestratorSettings, total: int, database: str | None = None
) -> tuple[float, dict[str, Any]]:
    """Events/s from the first applied event to the last, through the real consumer; beside it
    statements per batch, CPU per event (this process, which runs the consumer, and PostgreSQL's
    processes for ``database``) and the state caches' hit rate."""
    engine = create_engine(settings.resolved_database_url)
    counter = StatementCounter()
    counter.ignore(engine)
    server = ServerCpu(database)
    caches: list[repo.StateCaches] = []

    def kept_caches(budget: int) -> repo.StateCaches:
        caches.append(repo.StateCaches(budget))
        return caches[-1]

    stop = asyncio.Event()
    first_at: float | None = None
    first_count = 0
    with (
        counter.installed(),
        patch.object(orchestrator_main, "apply_engagement", counter.per_call(apply_engagement)),
        patch.object(orchestrator_main, "StateCaches", kept_caches),
    ):
        task = asyncio.create_task(run(settings, stop))
        try:
            last_sample = 0.0
            while True:
                async with engine.connect() as conn:
                    count = await conn.scalar(select(func.count()).select_from(inbox)) or 0
                now = time.perf_counter()
                if count and first_at is None:
                    first_at, first_count = now, count
                    cpu = ProcessCpu()
                    await server.sample(engine)
                elif now - last_sample > 0.5 or count >= total:
                    await server.sample(engine)
                    last_sample = now
                if count >= total:
                    break
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            assert first_at is not None
            applied = total - first_count
            hits = sum(c.contacts.hits + c.accounts.hits for c in caches)
            misses = sum(c.contacts.misses + c.accounts.misses for c in caches)
            extra = {
                "statements_per_batch": counter.summary(),
                "orchestrator_cpu_us_per_event": cpu.seconds() / applied * 1e6,
                "postgresql_cpu_us_per_event": server.seconds() / applied * 1e6
                if database
                else None,
                "state_cache_hit_rate": hit_rate(hits, misses),
            }
            return applied / max(now - first_at, 1e-6), extra
        finally:
            stop.set()
            await task
            await engine.dispose()


async def decode_rate(settings: OrchestratorSettings, topic: str, total: int) -> float:
    consumer = make_consumer(settings, topic, group_id=uuid.uuid4().hex)
    producer = make_producer(settings)
    await consumer.start()
    await producer.start()
    seen, first, done = 0, 0.0, 0.0

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        nonlocal seen, first, done
        first = first or time.perf_counter()
        for r in records:
            EngagementEvent.model_validate_json(r.value or b"")
        seen += len(records)
        if seen >= total:
            done = time.perf_counter()
            loop.stop()
        return []

    loop = BatchConsumer("bench", consumer, producer, handler, LoopPolicy())
    try:
        await loop.run()
    finally:
        await consumer.stop()
        await producer.stop()
    return total / (done - first)


async def upsert_rate(url: str, contacts: int, batch: int = 2000) -> float:
    """A bare batched upsert of contact rows with a realistic state blob: the storage bound."""
    engine = create_engine(url)
    state = ContactState(key="x")
    now = datetime.now(UTC)
    try:
        start = time.perf_counter()
        for lo in range(0, contacts, batch):
            states = {f"c{i}": replace(state, key=f"c{i}")
                      for i in range(lo, min(lo + batch, contacts))}  # fmt: skip
            async with engine.begin() as conn:
                await repo.save_contacts(conn, states, {}, now)
        return contacts / (time.perf_counter() - start)
    finally:
        await engine.dispose()


async def one_backend(
    backend: str,
    broker: EmbeddedBroker,
    payloads: list[bytes],
    contacts: int,
    repeats: int,
    max_batch: int | None = None,
) -> tuple[list[Figure], list[dict[str, Any]]]:
    """Each repeat on a fresh database (the inbox would otherwise skip every event)."""
    orch: list[float] = []
    dec: list[float] = []
    ups: list[float] = []
    extras: list[dict[str, Any]] = []
    for _ in range(repeats):
        url, dbname = await _fresh_database(backend)
        try:
            await upgrade_async(url)
            settings = OrchestratorSettings(
                kafka_bootstrap=broker.bootstrap,
                kafka_idempotence=False,
                database_url=url,
                orchestrator_group=uuid.uuid4().hex,
            )
            if max_batch is not None:
                settings = settings.model_copy(update={"orchestrator_max_batch": max_batch})
            rate, extra = await orchestrator_rate(settings, len(payloads), dbname)
            orch.append(rate)
            extras.append(extra)
            dec.append(await decode_rate(settings, ENGAGEMENT, len(payloads)))
            ups.append(await upsert_rate(url, contacts))
        finally:
            await _drop(dbname)
    figures = [
        Figure(f"{backend}: consume + decode alone", "ev/s", dec),
        Figure(f"{backend}: bare batched upsert of contacts", "rows/s", ups),
        Figure(f"{backend}: orchestrator, default playbook", "ev/s", orch),
    ]
    return figures, extras


async def main(
    events: int, contacts: int, backends: list[str], repeats: int, max_batch: int | None = None
) -> None:
    log = Path(tempfile.mkdtemp()) / "tansu.log"
    broker = EmbeddedBroker("127.0.0.1", free_port(), log_path=log)
    await broker.start()
    result: dict[str, Any] = {"events": events, "contacts": contacts, "repeats": repeats}
    try:
        settings = OrchestratorSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)
        await ensure_topics(settings, partitions=6)
        payloads = world(events, contacts)
        producer = make_producer(settings)
        await producer.start()
        try:
            futures = [
                await producer.send(
                    ENGAGEMENT, value=p, key=orjson.loads(p)["account"]["external_id"].encode()
                )
                for p in payloads
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        print(f"\nOrchestrator: {events:,} events over {contacts:,} contacts (embedded broker)")
        for backend in backends:
            (dec, ups, orch), extras = await one_backend(
                backend, broker, payloads, contacts, repeats, max_batch
            )
            print(dec.line())
            print(ups.line())
            print(orch.line(dec))
            serial = 1 / (1 / dec.median + 1 / ups.median)
            print(
                f"{backend}: serial raw bound (decode then upsert) {serial:>12,.0f} ev/s; "
                f"orchestrator = {orch.median / serial:.1%} of it"
            )
            result[backend] = report(backend, dec, ups, orch, serial, extras)
    finally:
        broker.stop()
    write_result("orchestrator", result)


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench orchestrator", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--max-batch", type=int, help="orchestrator_max_batch (default: the settings' default)"
    )
    parser.add_argument("--scale", help="known-contact counts, e.g. 10000,100000")
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="--scale on PostgreSQL: measure right after the seed, without VACUUM (ANALYZE)",
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if args.scale:
        from bench.orchestrator_scale import scale

        sizes = [int(x) for x in args.scale.split(",")]
        run_service(scale(sizes, backends, min(args.events, 20_000), not args.no_settle))
    else:
        run_service(main(args.events, args.contacts, backends, args.repeats, args.max_batch))
