"""The orchestrator bench's probe reads real engines and the real server: statements counted per
wrapped call (the bench's own engine left out), PostgreSQL backends' CPU found by database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import orchestrator_probe
from bench.orchestrator_probe import ServerCpu, StatementCounter, hit_rate
from trellis.db import create_engine

ON_LOOP = pytest.mark.asyncio(loop_scope="session")


@ON_LOOP
async def test_statements_are_counted_per_call_but_not_the_ignored_engine(
    engine: AsyncEngine, database_url: str
) -> None:
    poller = create_engine(database_url)
    counter = StatementCounter()
    counter.ignore(poller)

    async def batch(n: int) -> None:
        async with engine.connect() as conn:
            for _ in range(n):
                await conn.execute(text("SELECT 1"))
            async with poller.connect() as other:
                await other.execute(text("SELECT 2"))

    try:
        with counter.installed():
            counted = counter.per_call(batch)
            await counted(3)
            await counted(5)
        await batch(1)  # after removal: not counted
    finally:
        await poller.dispose()
    assert counter.per_batch == [3, 5]
    assert counter.summary()["median"] == 4 and counter.summary()["max"] == 5


@ON_LOOP
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # its server's processes
async def test_server_cpu_reads_the_backends_of_the_database(
    engine: AsyncEngine, database_url: str
) -> None:
    assert database_url.startswith("postgresql")
    server = ServerCpu(make_url(database_url).database)
    work = create_engine(database_url)
    try:
        async with work.connect() as conn:
            await conn.execute(text("SELECT 1"))
            await server.sample(engine)
            await conn.execute(text("SELECT count(*) FROM generate_series(1, 3000000)"))
            await server.sample(engine)
    finally:
        await work.dispose()
    assert server.last  # the worker's backend was found in pg_stat_activity
    assert server.seconds() > 0.05


def test_results_are_one_json_object_per_bench(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrator_probe, "RESULTS", tmp_path)
    path = orchestrator_probe.write_result("orchestrator", {"ev_s": 1})
    written = json.loads(path.read_text())
    assert path.name == "orchestrator.json" and written["ev_s"] == 1 and "when" in written
    assert hit_rate(3, 1) == 0.75 and hit_rate(0, 0) is None
