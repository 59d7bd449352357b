"""What the revenue KPIs, the lift and segments add to ``GET /v1/funnel``'s read.

    python -m bench funnel_kpis [--contacts N] [--repeats R] [--database-url URL]

Fills a migrated database (SQLite in a temp dir unless ``--database-url``) with N contacts in
N/4 accounts walking awareness -> engaged -> mql -> sql over 60 days, half the deals won, some
cancellations and NPS answers, then times, in the same run: the stage funnel alone (the
baseline: what ``GET /v1/funnel`` read before issue 18), the whole answer (revenue KPIs and the
lift of every sequence over a 50% holdout) and the whole answer per industry. Prints medians in
milliseconds with the ratio to the baseline; writes ``bench/results/funnel_kpis.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.tables import accounts, contacts, revenue_facts, stage_history
from services.orchestrator.domain.funnel import Move, funnel_metrics
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.segments import Segment
from services.orchestrator.domain.stages import Stage
from services.orchestrator.ops.kpi_queries import KpiAsk
from services.orchestrator.ops.queries import funnel
from trellis.db import create_engine
from trellis.migrate import upgrade_async

RESULTS = Path(__file__).parent / "results" / "funnel_kpis.json"
D0 = datetime(2026, 1, 1, tzinfo=UTC)
STAGES = ("awareness", "engaged", "mql", "sql")


def _plan() -> NurtureConfig:
    data = default_nurture().model_dump(mode="json")
    return NurtureConfig.model_validate(data | {"holdout": 0.5})


def _rows(n: int) -> tuple[list[dict[str, Any]], ...]:
    rnd = random.Random(7)
    firms = [{"id": f"a{i}", "stage": "engaged", "state": {}, "created_at": D0, "updated_at": D0,
              "traits": {"industry": rnd.choice(("fintech", "retail", "software")),
                         "employees": rnd.choice((40, 400, 4000))}}
             for i in range(max(1, n // 4))]  # fmt: skip
    people, moves, facts = [], [], []
    for i in range(n):
        cid, aid = f"c{i}", f"a{i % len(firms)}"
        people.append({"id": cid, "account_id": aid, "stage": "awareness", "role": "manager",
                       "traits": {}, "state": {}, "created_at": D0, "updated_at": D0})  # fmt: skip
        at = D0 + timedelta(days=rnd.uniform(0, 30))
        for stage in STAGES[: rnd.randint(1, 4)]:
            moves.append({"subject_kind": "contact", "subject_id": cid, "to_stage": stage,
                          "reason": "evidence", "occurred_at": at,
                          "playbook_version": "b"})  # fmt: skip
            at += timedelta(days=rnd.uniform(1, 10))
    for j, firm in enumerate(firms):
        at = D0 + timedelta(days=rnd.uniform(0, 40))
        cur = rnd.choice(("EUR", "USD"))
        facts.append({"event_id": f"d{j}", "kind": "deal_created", "account_id": firm["id"],
                      "deal_id": f"d{j}", "amount": "24000", "currency": cur,
                      "deal_stage": "proposal", "occurred_at": at})  # fmt: skip
        if j % 2:
            facts.append({"event_id": f"w{j}", "kind": "deal_closed_won", "deal_id": f"d{j}",
                          "account_id": firm["id"],
                          "occurred_at": at + timedelta(days=9)})  # fmt: skip
        if j % 7 == 0:
            facts.append({"event_id": f"x{j}", "kind": "subscription_cancelled",
                          "account_id": firm["id"],
                          "occurred_at": at + timedelta(days=20)})  # fmt: skip
        facts.append({"event_id": f"n{j}", "kind": "nps_submitted", "account_id": firm["id"],
                      "contact_id": f"c{j}", "score": rnd.randint(0, 10),
                      "occurred_at": at + timedelta(days=5)})  # fmt: skip
    columns = [c.key for c in revenue_facts.columns]
    facts = [{c: f.get(c) for c in columns} for f in facts]  # one shape for executemany
    return firms, people, moves, facts


async def _median_ms(work: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        await work()
        runs.append((time.perf_counter() - start) * 1000)
    return runs


async def main(n: int, repeats: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_async(url)
        engine = create_engine(url)
        firms, people, moves, facts = _rows(n)
        async with engine.begin() as conn:
            for table, rows in ((accounts, firms), (contacts, people), (stage_history, moves),
                                (revenue_facts, facts)):  # fmt: skip
                for k in range(0, len(rows), 5000):
                    await conn.execute(table.insert(), rows[k : k + 5000])
        since, until, plan = D0 + timedelta(days=10), D0 + timedelta(days=40), _plan()

        async def stages_only() -> None:  # the funnel before issue 18
            async with engine.connect() as conn:
                for kind in ("contact", "account"):
                    h = stage_history.c
                    query = select(h.subject_id, h.to_stage, h.occurred_at, h.id)
                    query = query.where(h.occurred_at < until, h.subject_kind == kind)
                    rows = await conn.execute(query)
                    funnel_metrics([Move(s, Stage(t), a, q) for s, t, a, q in rows], since, until)

        async def whole(segment: Segment | None) -> None:
            async with engine.connect() as conn:
                await funnel(conn, since, until, None, KpiAsk(segment, plan))

        figures = {
            "stage funnel alone (baseline)": await _median_ms(stages_only, repeats),
            "with revenue KPIs and lift": await _median_ms(lambda: whole(None), repeats),
            "with KPIs and lift per industry": await _median_ms(
                lambda: whole(Segment.INDUSTRY), repeats
            ),
        }
        await engine.dispose()
    base = statistics.median(next(iter(figures.values())))
    print(f"GET /v1/funnel read, {n:,} contacts, {len(moves):,} moves, {len(facts):,} facts "
          f"({url.split(':')[0]}):")  # fmt: skip
    out = {}
    for name, runs in figures.items():
        med = statistics.median(runs)
        print(f"  {name:<34} {med:>9,.0f} ms  (min {min(runs):,.0f} max {max(runs):,.0f})"
              f"  ratio {med / base:4.2f}x")  # fmt: skip
        out[name] = {"median_ms": round(med, 1), "runs_ms": [round(r, 1) for r in runs],
                     "ratio_to_baseline": round(med / base, 3)}  # fmt: skip
    RESULTS.write_bytes(orjson.dumps({"contacts": n, "moves": len(moves), "facts": len(facts),
                                      "database": url.split(":")[0], "figures": out},
                                     option=orjson.OPT_INDENT_2))  # fmt: skip


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench funnel_kpis")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    asyncio.run(main(args.contacts, args.repeats, args.database_url))
