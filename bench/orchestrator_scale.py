"""Orchestrator cost per event vs the number of known contacts (``bench orchestrator --scale``).

Seeds each database through the handler (no broker), then times batches hitting known contacts,
with a long-lived state cache as the process keeps.

On PostgreSQL the seeded tables are settled with ``VACUUM (ANALYZE)`` before the measure, at every
size: what autovacuum does after a bulk load on a server with its defaults (production's, see
``docker-compose.yml``). This machine's server runs with ``autovacuum = off``; unsettled, the
measure pays the seed's one-time costs (first reads setting hint bits, dirtying pages that then
must be written out of a 128 MB buffer pool; no planner statistics). ``--no-settle`` measures that.
"""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import timedelta
from typing import Any

import asyncpg

from bench.common import Record
from bench.orchestrator import T0, _drop, _fresh_database, world
from bench.orchestrator_probe import hit_rate, write_result
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.settings import OrchestratorSettings
from trellis.collector import Collector, tune_gc
from trellis.db import create_engine
from trellis.migrate import upgrade_async


async def settle(dbname: str) -> float:
    """``VACUUM (ANALYZE)`` the seeded database, as autovacuum would after a bulk load; seconds."""
    started = time.perf_counter()
    conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database=dbname)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def cost_per_event(
    backend: str, known: int, measured: int, batch: int = 2000, settled: bool = True
) -> dict[str, float | None]:
    """Microseconds per event through ``apply_engagement`` once ``known`` contacts exist, with a
    long-lived state cache as the process keeps (its default size); beside it the CPU part (this
    process) and the state caches' hit rate over the measured batches."""
    tune_gc()  # as the orchestrator process does at start (``TRELLIS_ORCHESTRATOR_TUNE_GC``)
    collector = Collector()  # and collects between batches (``..._COLLECT_BETWEEN_BATCHES``)
    collector.take_over()
    url, dbname = await _fresh_database(backend)
    engine = create_engine(url)
    playbook = default_playbook()
    caches = repo.StateCaches(OrchestratorSettings().state_cache_bytes())  # the process's
    try:
        await upgrade_async(url)
        seed = [
            Record("seed", 0, i, p) for i, p in enumerate(world(known, known, seed=1, spread=False))
        ]
        # On PostgreSQL two seeders over disjoint halves (whole accounts: contact // 5), as two
        # lanes would: the seeding, not the measure, is most of the bench's time at 1M.
        halves = 2 if backend == "postgresql" else 1
        cut = (len(seed) // halves) // 5 * 5
        parts = [seed[:cut], seed[cut:]] if halves == 2 else [seed]

        async def feed(part: list[Record]) -> None:
            for lo in range(0, len(part), batch):
                await apply_engagement(part[lo : lo + batch], engine, playbook, caches=caches)
                collector.safe_point()

        await asyncio.gather(*(feed(part) for part in parts))
        # The seed records (a million at 1M, and their halves) are the bench's, not state the
        # orchestrator keeps: held through the measure, every full collection walked them all.
        del seed, parts
        gc.collect()
        settle_s = await settle(dbname) if settled and dbname else None
        hits = [
            Record("hit", 0, i, p.replace(b'"bench-', b'"hit-'))
            for i, p in enumerate(world(measured, known, 2, start=T0 + timedelta(minutes=known)))
        ]
        before, collecting = _counts(caches), sum(collector.seconds)
        start, cpu = time.perf_counter(), time.process_time()
        for lo in range(0, len(hits), batch):
            await apply_engagement(hits[lo : lo + batch], engine, playbook, caches=caches)
            collector.safe_point()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        hit, miss = (now - was for now, was in zip(_counts(caches), before, strict=True))
        collecting = sum(collector.seconds) - collecting
        return {
            "us_per_event": wall / measured * 1e6,
            "cpu_us_per_event": cpu / measured * 1e6,
            "collector_us_per_event": collecting / measured * 1e6,
            "cached_contacts": len(caches.contacts),
            "state_cache_hit_rate": hit_rate(hit, miss),
            "settle_seconds": None if settle_s is None else round(settle_s, 1),
        }
    finally:
        collector.release()
        await engine.dispose()
        await _drop(dbname)


def _counts(caches: repo.StateCaches) -> tuple[int, int]:
    both = (caches.contacts, caches.accounts)
    return sum(c.hits for c in both), sum(c.misses for c in both)


async def scale(sizes: list[int], backends: list[str], measured: int, settled: bool = True) -> None:
    print(f"\nCost per event vs known contacts ({measured:,} events hitting known contacts)")
    if "postgresql" in backends:
        print(
            "PostgreSQL tables "
            + (
                "settled by VACUUM (ANALYZE) after the seed, as autovacuum would"
                if settled
                else "measured unsettled (--no-settle): no vacuum after the seed"
            )
        )
    started = time.perf_counter()
    result: dict[str, Any] = {"sizes": sizes, "measured_events": measured, "settled": settled}
    for backend in backends:
        runs = [await cost_per_event(backend, n, measured, settled=settled) for n in sizes]
        for n, r in zip(sizes, runs, strict=True):
            rate = r["state_cache_hit_rate"]
            print(
                f"{backend}: {n:>10,} known contacts {r['us_per_event']:>10,.1f} us/event "
                f"(CPU {r['cpu_us_per_event']:,.1f}, of which collector "
                f"{r['collector_us_per_event']:,.1f}; {r['cached_contacts']:,} contacts cached, "
                "state cache hit rate " + (f"{rate:.1%})" if rate is not None else "-)")
            )
        ratio = (runs[-1]["us_per_event"] or 0) / (runs[0]["us_per_event"] or 1)
        print(f"{backend}: {sizes[-1]:,} vs {sizes[0]:,} = {ratio:.2f}x")
        result[backend] = {"by_known_contacts": dict(zip(map(str, sizes), runs, strict=True)),
                           "ratio_last_to_first": round(ratio, 3)}  # fmt: skip
    result["bench_seconds"] = round(time.perf_counter() - started)
    print(f"whole scale bench: {result['bench_seconds']:,} s")
    write_result("orchestrator_scale", result)
