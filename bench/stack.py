"""The whole stack as separate processes, for ``bench e2e`` and ``python -m chaos``.

Like ``trellis dev``: an embedded broker (Tansu), ``trellis ingest`` / ``orchestrator`` /
``notifier`` as child processes, plus a throwaway PostgreSQL database (created per run on the
local server, dropped after). Every process can be killed with SIGKILL and started again; its CPU
seconds and RSS are read from ``/proc``. Children die with the harness (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

# re-exported: chaos and bench e2e import the database helpers from here
from bench.postgres import PG_HOST as PG_HOST
from bench.postgres import PG_PORT as PG_PORT
from bench.postgres import asyncpg_dsn as asyncpg_dsn
from bench.postgres import create_database as create_database
from bench.postgres import drop_database as drop_database
from bench.postgres import pg_url as pg_url
from bench.postgres import postgres_reachable as postgres_reachable
from bench.processes import Service, cpu_seconds
from schemas.vocabulary import SourceKind
from trellis.broker import EmbeddedBroker, free_port
from trellis.demo_world import WorldBuilder


@dataclass
class Stack:
    """Broker + service processes sharing one environment."""

    workdir: Path
    broker: EmbeddedBroker
    env: dict[str, str]
    ingest_port: int
    services: dict[str, Service] = field(default_factory=dict)

    @classmethod
    def build(cls, workdir: Path, database_url: str, extra: Mapping[str, str]) -> Stack:
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        broker = EmbeddedBroker("127.0.0.1", free_port(), log_path=workdir / "logs" / "tansu.log")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
            "TRELLIS_KAFKA_BOOTSTRAP": broker.bootstrap,
            "TRELLIS_KAFKA_IDEMPOTENCE": "false",
            "TRELLIS_DATABASE_URL": database_url,
            "TRELLIS_DATA_DIR": str(workdir / "data"),
            "TRELLIS_INGEST_PORT": str(port),
            "TRELLIS_ORCHESTRATOR_REP_POOL": "rep@bench.example",
            **extra,
        }
        stack = cls(workdir, broker, env, port)
        exe = [sys.executable, "-m", "console.cli"]
        for name in ("ingest", "orchestrator", "notifier"):
            stack.services[name] = Service(name, [*exe, name], env, workdir / "logs")
        return stack

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    def start(self, name: str) -> None:
        service = self.services[name]
        service.start()
        if name == "ingest":
            service.wait_for_port(self.ingest_port)
        else:
            service.wait_for_log("consuming")

    def stop_all(self, deadline_s: float = 10.0) -> dict[str, float | None]:
        """SIGTERM to every service at once, SIGKILL to those still running after
        ``deadline_s``; returns how long each took to stop (None: it had to be killed)."""
        took: dict[str, float | None] = {}
        for group in (("ingest", "orchestrator", "notifier"), ("sinks",)):
            running = {
                n: s.process
                for n, s in self.services.items()
                if n in group and s.process is not None and s.process.poll() is None
            }
            for name, proc in running.items():
                self.services[name].cpu_before += cpu_seconds(proc.pid)
                proc.send_signal(signal.SIGTERM)
            start = time.monotonic()
            while running and time.monotonic() - start < deadline_s:
                for name, proc in list(running.items()):
                    if proc.poll() is not None:
                        took[name] = time.monotonic() - start
                        del running[name]
                time.sleep(0.05)
            for name, proc in running.items():
                proc.kill()
                proc.wait()
                took[name] = None
        return took

    def pids(self) -> dict[str, int]:
        out = {n: s.pid for n, s in self.services.items() if s.process and s.process.poll() is None}
        if self.broker.pid is not None:
            out["broker"] = self.broker.pid
        return out


def world_chunks(
    events: int, seed: int, tag: str, now: datetime, chunk_accounts: int = 400
) -> Iterator[list[dict[str, Any]]]:
    """The demo world (trellis/demo_world.py) in chunks of accounts, each chunk's timeline
    compressed into the 30 days before ``now``; ids carry ``tag`` so runs never collide. Yields
    until ``events`` events were produced (the last chunk is cut)."""
    produced, first_account = 0, 0
    start = now - timedelta(days=30)
    while produced < events:
        builder = WorldBuilder(seed + first_account, start)
        for n in range(first_account, first_account + chunk_accounts):
            builder.account(n)
        first_account += chunk_accounts
        chunk = sorted(builder.events, key=lambda e: (e["time"], e["id"]))
        lo = datetime.fromisoformat(chunk[0]["time"])
        hi = datetime.fromisoformat(chunk[-1]["time"])
        scale = (now - start - timedelta(minutes=5)) / max(hi - lo, timedelta(seconds=1))
        for e in chunk:
            e["id"] = f"{tag}-{first_account}-{e['id']}"
            e["time"] = (start + (datetime.fromisoformat(e["time"]) - lo) * scale).isoformat()
            e["contact"]["external_id"] = f"{tag}-{e['contact']['external_id']}"
            e["contact"]["email"] = f"{tag}.{e['contact']['email']}"
            e["account"] = {
                **e["account"],
                "external_id": f"{tag}-{e['account']['external_id']}",
                "domain": f"{tag}.{e['account']['domain']}",
            }
        take = chunk[: events - produced]
        produced += len(take)
        yield take


def utc_now() -> datetime:
    return datetime.now(UTC)


async def prepare(stack: Stack, direct_url: str, partitions: int) -> dict[SourceKind, str]:
    """Start the broker, migrate, create the topics and a source per kind (website, backend,
    CRM, consent tool); returns their write keys."""
    from console.databases import migrate_all
    from services.notifier.settings import NotifierDatabase
    from trellis.db import create_engine
    from trellis.kafka import ensure_topics
    from trellis.producers import DEV_KINDS
    from trellis.settings import TrellisSettings
    from trellis.sources import SqlAlchemySourceRepository

    await stack.broker.start()
    await migrate_all(NotifierDatabase(database_url=direct_url))  # and the notifier's own file
    settings = TrellisSettings(kafka_bootstrap=stack.broker.bootstrap, kafka_idempotence=False)
    await ensure_topics(settings, partitions=partitions)
    engine = create_engine(direct_url)
    try:
        repo = SqlAlchemySourceRepository(engine)
        keys = {
            kind: (await repo.add(f"bench-{kind.value}", kind, utc_now())).credential
            for kind in DEV_KINDS
        }
    finally:
        await engine.dispose()
    return keys


def sinks_service(stack: Stack, received: Path) -> tuple[Service, int, int]:
    """``chaos.sinks`` as a child process: (service, SMTP port, HTTP port)."""
    smtp_port, http_port = free_port(), free_port()
    argv = [sys.executable, "-m", "chaos.sinks", str(smtp_port), str(http_port), str(received)]
    service = Service("sinks", argv, stack.env, stack.workdir / "logs")
    stack.services["sinks"] = service
    return service, smtp_port, http_port


class TouchProbe:
    """Reads ``trellis.touches.v1`` and ``trellis.reminders.v1`` from the start in a group of its
    own: when each ``DispatchTouch`` was first seen (wall time) and the command itself."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.first_seen: dict[str, float] = {}
        self.commands: dict[str, dict[str, Any]] = {}
        self.copies = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        from schemas.topics import REMINDERS, TOUCHES

        consumer = AIOKafkaConsumer(
            TOUCHES,
            REMINDERS,
            bootstrap_servers=self.bootstrap,
            group_id=f"probe-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: Any) -> None:
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                at = time.time()
                for records in batch.values():
                    for r in records:
                        try:
                            cmd = orjson.loads(r.value)
                            touch_id = str(cmd["touch_id"])
                        except (orjson.JSONDecodeError, KeyError, TypeError):
                            continue
                        if touch_id in self.first_seen:
                            self.copies += 1
                            continue
                        self.first_seen[touch_id] = at
                        self.commands[touch_id] = cmd
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
