"""CPU of the planning that follows each engagement batch (``application.engagement.plan_after``).

    python -m bench.planning_cpu [--events N] [--contacts K] [--batch B] [--repeats R]
                                 [--backend sqlite|postgresql] [--dump FILE] [--world mixed|bench]

Feeds a deterministic world (the orchestrator bench's kinds plus consent grants, hand-raises
and pricing views, with region traits so zones differ) through ``apply_engagement`` with the
default playbook and nurture plan and a clock that follows the events; ``plan_after`` is
wrapped to add up its process CPU and statements. Prints the CPU per event of planning (median
over the repeats) beside that of the whole handler. ``--dump`` writes the touches and the
decision log it produced (ids, times, reasons, facts), to compare two commits' decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from unittest.mock import patch

import orjson
from sqlalchemy import text

from bench import orchestrator as orchestrator_bench
from bench.common import Record
from bench.orchestrator import _drop, _fresh_database
from bench.orchestrator_probe import StatementCounter
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.application import engagement
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from trellis.db import create_engine
from trellis.migrate import upgrade_async

P = ParamSpec("P")
T = TypeVar("T")

T0 = datetime(2026, 10, 5, 7, tzinfo=UTC)
KINDS: list[tuple[str, dict[str, Any], int]] = [  # kind, properties, weight
    ("page_viewed", {"path": "/blog/x"}, 30),
    ("page_viewed", {"path": "/pricing"}, 8),
    ("content_downloaded", {"asset": "a", "content_type": "ebook"}, 12),
    ("webinar_registered", {"webinar": "w"}, 6),
    ("webinar_attended", {"webinar": "w"}, 6),
    ("email_opened", {}, 15),
    ("email_clicked", {}, 10),
    ("consent_given", {"channel": "email", "method": "form"}, 6),
    ("consent_given", {"channel": "sms", "method": "form"}, 1),
    ("consent_withdrawn", {"channel": "email", "method": "link"}, 1),
    ("demo_requested", {}, 2),
]
REGIONS = ["na", "emea", "apac", "latam", "us-west", "uk", None]


def world(events: int, contacts: int, seed: int = 11) -> list[bytes]:
    rnd = random.Random(seed)
    weights = [w for _, _, w in KINDS]
    out = []
    for i in range(events):
        c = rnd.randrange(contacts)
        kind, props, _ = rnd.choices(KINDS, weights)[0]
        region = REGIONS[(c // 5) % len(REGIONS)]
        traits = {"region": region} if region else {}
        out.append(orjson.dumps({
            "id": f"pl-{i}", "type": kind, "source": "bench",
            "time": (T0 + timedelta(minutes=7 * i)).isoformat(),
            "contact": {"external_id": f"u-{c}", "email": f"p{c}@co{c // 5}.example",
                        "traits": {"role": ["technical", "finance", "executive", "user"][c % 4]}},
            "account": {"external_id": f"acc-{c // 5}", "domain": f"co{c // 5}.example",
                        "traits": traits},
            "properties": props,
        }))  # fmt: skip
    return out


def _cpu_of(fn: Callable[P, Awaitable[T]], spent: list[float]) -> Callable[P, Awaitable[T]]:
    """``fn`` with the process CPU of each call added to ``spent[0]``."""

    async def measured(*args: P.args, **kwargs: P.kwargs) -> T:
        start = time.process_time()
        try:
            return await fn(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - start

    return measured


async def one_run(
    backend: str, payloads: list[bytes], batch: int, dump: Path | None
) -> tuple[float, float, float]:
    """(planning CPU s, handler CPU s, planning statements) over the run."""
    url, dbname = await _fresh_database(backend)
    engine = create_engine(url)
    playbook, caches = default_playbook(), repo.StateCaches()
    nurture = Nurture(default_nurture(), ("rep1@us.example", "rep2@us.example"))
    counter, spent = StatementCounter(), [0.0]
    handler = 0.0
    try:
        await upgrade_async(url)
        records = [Record("engagement", 0, i, p) for i, p in enumerate(payloads)]
        wrapped = _cpu_of(counter.per_call(engagement.plan_after), spent)
        with counter.installed(), patch.object(engagement, "plan_after", wrapped):
            for lo in range(0, len(records), batch):
                part = records[lo : lo + batch]
                at = T0 + timedelta(minutes=7 * (lo + len(part)))
                start = time.process_time()
                clock = (lambda t: lambda: t)(at)
                await apply_engagement(part, engine, playbook, clock, caches, nurture)
                handler += time.process_time() - start
        if dump is not None:
            await _dump(engine, dump)
    finally:
        await engine.dispose()
        await _drop(dbname)
    return spent[0], handler, sum(counter.per_batch)


async def _dump(engine: Any, path: Path) -> None:
    queries = {
        "touches": "SELECT id, contact_id, account_id, channel, template_id, stage, sequence_step,"
        " status, reason, due_at, created_at FROM touches ORDER BY id",
        "decisions": "SELECT * FROM decisions ORDER BY id",
        "reminders": "SELECT * FROM reminders ORDER BY id",
    }
    out: dict[str, list[list[str]]] = {}
    async with engine.connect() as conn:
        for name, sql in queries.items():
            rows = (await conn.execute(text(sql))).all()
            out[name] = [[str(v) for v in r] for r in rows]
    _write(path, orjson.dumps(out, option=orjson.OPT_INDENT_2))


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


async def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench.planning_cpu")
    p.add_argument("--events", type=int, default=3000)
    p.add_argument("--contacts", type=int, default=1000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--backend", default="postgresql", choices=["sqlite", "postgresql"])
    p.add_argument("--dump", type=Path)
    p.add_argument(
        "--world",
        default="mixed",
        choices=["mixed", "bench"],
        help="bench: the orchestrator bench's events (no consent, no hand-raise)",
    )
    args = p.parse_args(argv)
    payloads = (world(args.events, args.contacts) if args.world == "mixed"
                else orchestrator_bench.world(args.events, args.contacts, start=T0))  # fmt: skip
    plans, handlers, statements = [], [], []
    for r in range(args.repeats):
        plan, handler, stmts = await one_run(
            args.backend, payloads, args.batch, args.dump if r == 0 else None
        )
        plans.append(plan / args.events * 1e6)
        handlers.append(handler / args.events * 1e6)
        statements.append(stmts / -(-args.events // args.batch))
    print(f"planning CPU us/event: median {statistics.median(plans):.1f} "
          f"(runs {', '.join(f'{x:.1f}' for x in plans)})")  # fmt: skip
    print(f"handler CPU us/event: median {statistics.median(handlers):.1f}")
    print(f"planning statements/batch: {statistics.median(statements):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
