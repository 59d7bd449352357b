"""Orchestrator cost per event vs the number of known contacts (``bench orchestrator --scale``).

Seeds each database through the handler (no broker), then times batches hitting known contacts,
with a long-lived state cache as the process keeps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from bench.orchestrator import T0, _drop, _fresh_database, world
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.handlers import apply_engagement
from trellis.db import create_engine
from trellis.migrate import upgrade_async


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None


async def cost_per_event(backend: str, known: int, measured: int, batch: int = 2000) -> float:
    """Microseconds per event through ``apply_engagement`` once ``known`` contacts exist, with a
    long-lived state cache as the process keeps (its default size)."""
    url, dbname = await _fresh_database(backend)
    engine = create_engine(url)
    playbook = default_playbook()
    caches = repo.StateCaches()
    try:
        await upgrade_async(url)
        seed = [
            _Record("seed", 0, i, p)
            for i, p in enumerate(world(known, known, seed=1, spread=False))
        ]
        for lo in range(0, len(seed), batch):
            await apply_engagement(seed[lo : lo + batch], engine, playbook, caches=caches)
        hits = [
            _Record("hit", 0, i, p.replace(b'"bench-', b'"hit-'))
            for i, p in enumerate(world(measured, known, 2, start=T0 + timedelta(minutes=known)))
        ]
        start = time.perf_counter()
        for lo in range(0, len(hits), batch):
            await apply_engagement(hits[lo : lo + batch], engine, playbook, caches=caches)
        return (time.perf_counter() - start) / measured * 1e6
    finally:
        await engine.dispose()
        await _drop(dbname)


async def scale(sizes: list[int], backends: list[str], measured: int) -> None:
    print(f"\nCost per event vs known contacts ({measured:,} events hitting known contacts)")
    for backend in backends:
        costs = [await cost_per_event(backend, n, measured) for n in sizes]
        for n, c in zip(sizes, costs, strict=True):
            print(f"{backend}: {n:>10,} known contacts {c:>10,.1f} us/event")
        print(f"{backend}: {sizes[-1]:,} vs {sizes[0]:,} = {costs[-1] / costs[0]:.2f}x")
