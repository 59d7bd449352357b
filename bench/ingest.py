"""Ingest throughput on the embedded broker, one command: ``python -m bench ingest``.

Both servers run under the same uvicorn command line and worker count, in the same run:
- ``bare``: a bare FastAPI ``POST /v1/events`` that parses the JSON body and answers 202;
- ``ingest``: the real app (write key, validation, vocabulary, acks=all publish, metrics); its
  ``POST /v1/events`` is served ahead of FastAPI's middleware stack (``services/ingest/direct``).
Figures: single-event req/s (ratio to bare; target >= 75%), ``/v1/batch`` with 100 events per
request in events/s (target >= 25,000 with 2 workers), p50/p99 latency; medians over repeats.
Also the servers' CPU time per request (all uvicorn processes, from ``/proc``): on a machine
shared with other jobs throughput swings with their load, CPU per request much less.

The load generator is an in-repo keep-alive HTTP/1.1 client on asyncio streams (pre-encoded
requests, bounded connections): httpx costs more CPU per request than the servers under test.
It shares the machine's cores with the servers and the broker, so figures are conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from fastapi import FastAPI, Request, status

from bench.common import Figure
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from trellis.broker import EmbeddedBroker, free_port, port_in_use
from trellis.db import create_engine
from trellis.migrate import upgrade_async
from trellis.sources import SourceKind, SqlAlchemySourceRepository


def ingest_factory() -> FastAPI:
    """``uvicorn --factory bench.ingest:ingest_factory`` (settings from ``TRELLIS_*``)."""
    return create_app(IngestSettings())


def bare_factory() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/events", status_code=status.HTTP_202_ACCEPTED)
    async def events(request: Request) -> dict[str, int]:
        orjson.loads(await request.body())
        return {"accepted": 1}

    return app


@dataclass
class Run:
    requests: int
    seconds: float
    latencies: list[float]

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _request(port: int, path: str, body: bytes, key: str) -> bytes:
    auth = base64.b64encode(f"{key}:".encode()).decode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load(
    port: int, make: Callable[[], bytes], total: int, connections: int, expect: bytes
) -> Run:
    """``total`` requests over ``connections`` keep-alive connections; every answer checked.

    The requests (each with fresh event ids) are built before the clock starts: the load
    generator shares the cores with the servers, and building a 100-event batch cost it ~9 us
    per event (measured), a tenth of what the server spends on it."""
    payloads = [make() for _ in range(total)]
    payloads.reverse()
    latencies: list[float] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while payloads:
                payload = payloads.pop()
                started = time.perf_counter()
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 " + expect):
                    raise RuntimeError(f"unexpected answer: {head[:60]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Run(len(latencies), time.perf_counter() - started, latencies)


def _event(n: int = 0) -> dict[str, object]:
    return {
        "id": f"bench-{uuid.uuid4().hex}",
        "type": "page_viewed",
        "source": "bench",
        "time": "2026-01-05T10:00:00Z",
        "contact": {"external_id": f"c-{n % 1000}", "email": f"u{n % 1000}@example.com"},
        "account": {"domain": f"acme{n % 100}.example"},
        "properties": {"url": "https://trellis.test/pricing", "path": "/pricing"},
    }


def _segment_batch(size: int) -> bytes:
    batch = [
        {
            "type": "track",
            "event": "Page Viewed",
            "userId": f"u-{i % 1000}",
            "messageId": f"bench-{uuid.uuid4().hex}",
            "timestamp": "2026-01-05T10:00:00Z",
            "properties": {"path": "/pricing"},
        }
        for i in range(size)
    ]
    return orjson.dumps({"batch": batch})


class Server:
    def __init__(self, factory: str, workers: int, env: dict[str, str]) -> None:
        self.port = free_port()
        cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--workers", str(workers), "--log-level", "warning"]
        cmd += ["--no-access-log"]
        self.proc = subprocess.Popen(cmd, env=env)

    async def __aenter__(self) -> Server:
        deadline = time.monotonic() + 60
        while not port_in_use("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # every worker imported and its lifespan (producer) started
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU of the uvicorn process and its workers so far (0 without /proc)."""
        return sum(_cpu(pid) for pid in _process_tree(self.proc.pid))

    async def __aexit__(self, *_: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(entry.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += parents.get(pid, [])
    return tree


async def main(
    workers: int, repeats: int, requests: int, connections: int, size: int, extra: dict[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker("127.0.0.1", free_port(), log_path=Path(tmp) / "broker.log")
        await broker.start()
        try:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await upgrade_async(url)
            engine = create_engine(url)
            issued = await SqlAlchemySourceRepository(engine).add(
                "bench", SourceKind.SDK, datetime.now(UTC)
            )
            await engine.dispose()
            env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
            env |= {
                "TRELLIS_KAFKA_BOOTSTRAP": broker.bootstrap,
                "TRELLIS_KAFKA_IDEMPOTENCE": "false",
                "TRELLIS_DATABASE_URL": url,
                "TRELLIS_LOG_LEVEL": "WARNING",
                "TRELLIS_INGEST_MAX_BATCH": str(max(size, 500)),
            } | extra
            await _measure(env, issued.credential, workers, repeats, requests, connections, size)
        finally:
            broker.stop()


async def _measure(
    env: dict[str, str], key: str, workers: int, repeats: int, n: int, conns: int, size: int
) -> None:
    print(f"workers={workers} connections={conns} requests/run={n} repeats={repeats}")
    print(
        "server settings: "
        + " ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("TRELLIS_I"))
    )
    single: dict[str, list[Run]] = {}
    cpu_us: dict[str, float] = {}
    for name, factory in (
        ("bare", "bench.ingest:bare_factory"),
        ("ingest", "bench.ingest:ingest_factory"),
    ):
        async with Server(factory, workers, env) as server:
            make = lambda: _request(server.port, "/v1/events", orjson.dumps(_event()), key)  # noqa: E731
            await load(server.port, make, n // 5, conns, b"202")  # warm-up
            cpu_before = server.cpu_seconds()
            single[name] = [await load(server.port, make, n, conns, b"202") for _ in range(repeats)]
            cpu_us[name] = (server.cpu_seconds() - cpu_before) / (n * repeats) * 1e6
    bare = _figure("bare FastAPI POST /v1/events", single["bare"], 1)
    ours = _figure("ingest POST /v1/events (1 event)", single["ingest"], 1)
    print(bare.line() + _lat(single["bare"]))
    print(ours.line(bare) + _lat(single["ingest"]) + "  (target >= 75%)")
    if cpu_us["ingest"] > 0:
        share = cpu_us["bare"] / cpu_us["ingest"]
        print(
            f"server CPU per single-event request: bare {cpu_us['bare']:.0f} us, "
            f"ingest {cpu_us['ingest']:.0f} us (bare / ingest = {share:.0%})"
        )
    async with Server("bench.ingest:ingest_factory", workers, env) as server:
        make = lambda: _request(server.port, "/v1/batch", _segment_batch(size), key)  # noqa: E731
        batches = max(10 * n // size, 50)  # 50,000 events per run by default
        await load(server.port, make, batches // 5, conns, b"200")
        cpu_before = server.cpu_seconds()
        runs = [
            await load(server.port, make, batches, min(conns, 16), b"200") for _ in range(repeats)
        ]
        batch_cpu_us = (server.cpu_seconds() - cpu_before) / (batches * size * repeats) * 1e6
    batch = _figure(f"ingest POST /v1/batch ({size} events/request)", runs, size, "events/s")
    target = 25_000
    print(batch.line() + _lat(runs) + f"  = {batch.median / target:.0%} of {target:,} events/s")
    if batch_cpu_us > 0:
        print(f"server CPU per batched event: {batch_cpu_us:.0f} us")


def _figure(name: str, runs: Sequence[Run], per: int, unit: str = "req/s") -> Figure:
    return Figure(name, unit, [r.requests * per / r.seconds for r in runs])


def _lat(runs: Sequence[Run]) -> str:
    p50 = statistics.median(r.pct(0.50) for r in runs)
    p99 = statistics.median(r.pct(0.99) for r in runs)
    return f"  p50 {p50:.1f} ms p99 {p99:.1f} ms"


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ingest", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=5000, help="single-event requests/run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], help="TRELLIS_X=value for servers")
    args = parser.parse_args(argv)
    extra = {"TRELLIS_INGEST_SOURCE_CACHE_S": "5"} | dict(
        item.partition("=")[::2] for item in args.set
    )
    asyncio.run(
        main(args.workers, args.repeats, args.requests, args.connections, args.batch_size, extra)
    )
