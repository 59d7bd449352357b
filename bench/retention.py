"""Database bytes per million events, without and with the prune-old-rows job.

    python -m bench retention [--days D] [--per-day N] [--contacts K]

Simulates D days on PostgreSQL through the live handler and scheduler (the embedded broker takes
the dispatch commands): every contact opts into email on day 0, then N engagement events a day
for K contacts; the scheduler dispatches what is due at each day's end. Run twice: once keeping
everything, once pruning at each day's end with retentions scaled to the run (inbox 3 days,
decisions 10, finished touches 20; production defaults are 14, 90 and 180) and a plain VACUUM
after each prune (what autovacuum does). Prints the tables' bytes and rows at the end and bytes
per million events; with pruning the figure stops growing once the run is longer than the
retentions, without it grows with every event.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import orjson

from bench.common import Record
from bench.orchestrator import world
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.repository import StateCaches
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from services.orchestrator.retention import Retention, prune_once
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import EmbeddedBroker, free_port
from trellis.db import create_engine
from trellis.kafka import ensure_topics, make_producer
from trellis.migrate import upgrade_async

T0 = datetime(2026, 1, 5, tzinfo=UTC)
BENCH_RETENTION = Retention.of_days(inbox=3, decisions=10, touches=20)
TABLES = ("inbox", "decisions", "touches", "contacts", "accounts", "stage_history",
          "consent_ledger", "identity_aliases", "reminders")  # fmt: skip


def _consents(contacts: int) -> list[bytes]:
    return [
        orjson.dumps({
            "id": f"consent-{c}", "type": "consent_given", "source": "bench",
            "time": T0.isoformat(),
            "contact": {"external_id": f"u-{c}", "email": f"p{c}@co{c // 5}.example"},
            "properties": {"channel": "email", "method": "form", "form": "signup"},
        })
        for c in range(contacts)
    ]  # fmt: skip


async def _sizes(url: str) -> dict[str, tuple[int, int]]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        found = {}
        for table in TABLES:
            size = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
            rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
            found[table] = (int(size), int(rows))
        return found
    finally:
        await conn.close()


async def one_run(bootstrap: str, days: int, per_day: int, contacts: int, prune: bool) -> None:
    name = f"trellis_bench_ret_{'p' if prune else 'k'}_{free_port()}"
    admin = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1/{name}"
    engine = create_engine(url)
    settings = OrchestratorSettings(kafka_bootstrap=bootstrap, kafka_idempotence=False)
    producer = make_producer(settings)
    await producer.start()
    try:
        await upgrade_async(url)
        now = T0
        nurture = Nurture(settings.load_nurture(), ("rep@vendor.example",), ())
        scheduler = Scheduler(engine, producer, nurture, "bench", lambda: now, 2000)
        playbook, caches = default_playbook(), StateCaches()
        offset = 0

        async def apply(values: list[bytes]) -> None:
            nonlocal offset
            for lo in range(0, len(values), 2000):
                batch = [
                    Record("e", 0, offset + i, v) for i, v in enumerate(values[lo : lo + 2000])
                ]
                offset += len(batch)
                await apply_engagement(batch, engine, playbook, lambda: now, caches, nurture)

        await apply(_consents(contacts))
        for day in range(days):
            now = T0 + timedelta(days=day, hours=9)
            events = world(per_day, contacts, seed=day, start=now)
            await apply([e.replace(b'"bench-', f'"d{day}-'.encode()) for e in events])
            now = T0 + timedelta(days=day, hours=17)
            while await scheduler.dispatch_due():
                pass
            if prune:
                await prune_once(engine, BENCH_RETENTION, now)
                raw = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
                await raw.execute("VACUUM inbox, decisions, touches")
                await raw.close()
        sizes = await _sizes(url)
        total = sum(size for size, _ in sizes.values())
        applied = contacts + days * per_day
        label = "pruned " if prune else "kept all"
        print(f"{label}: {days} days, {applied:,} events: {total / 1e6:.1f} MB, "
              f"{total / applied * 1e6 / 1e9:.2f} GB per million events")  # fmt: skip
        for table, (size, rows) in sizes.items():
            print(f"    {table:17} {size / 1e6:8.1f} MB {rows:>10,} rows")
    finally:
        await producer.stop()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(days: int, per_day: int, contacts: int) -> None:
    broker = EmbeddedBroker("127.0.0.1", free_port(), Path(tempfile.mkdtemp()) / "t.log")
    await broker.start()
    try:
        settings = OrchestratorSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)
        await ensure_topics(settings)
        for prune in (False, True):
            await one_run(broker.bootstrap, days, per_day, contacts, prune)
    finally:
        broker.stop()


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench retention")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args(argv)
    asyncio.run(main(args.days, args.per_day, args.contacts))
