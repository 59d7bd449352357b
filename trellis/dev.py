"""``trellis dev``: the whole pipeline on one machine, each service in its own process.

Starts the embedded broker (unless ``TRELLIS_KAFKA_BOOTSTRAP`` names a real one), migrates the
database, creates the topics, then runs ingest, orchestrator and notifier as child processes whose
output is prefixed with their name. Ctrl-C (or SIGTERM) stops them all; children also die with
the supervisor if it is killed outright (PR_SET_PDEATHSIG), so nothing is left orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from trellis.broker import MEMORY_ONLY_WARNING, EmbeddedBroker, wait_for_metadata
from trellis.kafka import ensure_topics
from trellis.migrate import upgrade_async
from trellis.settings import TrellisSettings

COLOURS = {"broker": 35, "ingest": 36, "orchestrator": 33, "notifier": 32, "dev": 1}
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def say(name: str, line: str) -> None:
    colour = COLOURS.get(name, 0) if sys.stdout.isatty() else 0
    prefix = f"\x1b[{colour}m{name:>12} |\x1b[0m" if colour else f"{name:>12} |"
    sys.stdout.write(f"{prefix} {line}\n")
    sys.stdout.flush()


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self, env: dict[str, str]) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # Ctrl-C reaches us; we stop children in order
        )
        self.pump = asyncio.create_task(self._pump())
        say("dev", f"started {self.name} (pid {self.process.pid})")

    async def _pump(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            say(self.name, raw.decode(errors="replace").rstrip())

    async def stop(self, timeout_s: float = 15.0) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            say("dev", f"{self.name} did not stop in {timeout_s}s; killing it")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self.pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.pump, 2)


def service_children() -> list[Child]:
    exe = [sys.executable, "-m", "trellis.cli"]
    return [
        Child("ingest", [*exe, "ingest"]),
        Child("orchestrator", [*exe, "orchestrator"]),
        Child("notifier", [*exe, "notifier"]),
    ]


async def run_dev(settings: TrellisSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    env = dict(os.environ)
    broker: Child | None = None
    children = service_children()
    try:
        if settings.uses_embedded_broker:
            say("broker", MEMORY_ONLY_WARNING)
            embedded = EmbeddedBroker(settings.embedded_broker_host, settings.embedded_broker_port)
            broker = Child("broker", embedded.command())
            await broker.start(env)
            await wait_for_metadata(embedded.bootstrap, deadline_s=30)
            say("broker", f"ready at {embedded.bootstrap}")
        else:
            say("dev", f"using the Kafka cluster at {settings.kafka_bootstrap}")
            await wait_for_metadata(settings.bootstrap_servers, deadline_s=60)
        say("dev", f"migrating {_redact(settings.resolved_database_url)}")
        await upgrade_async(settings.resolved_database_url)
        created = await ensure_topics(settings)
        say("dev", f"topics ready ({len(created)} created)")
        key_file = await ensure_dev_source(settings)
        say("dev", f"dev write key (HTTP Basic username) in {key_file}")
        for child in children:
            await child.start(env)
        say("dev", "pipeline running; Ctrl-C stops everything")
        # The broker is watched too: a restarted memory-only broker has forgotten every topic,
        # so the services must not carry on against it.
        watched = [*children, *([broker] if broker else [])]
        waiters = [asyncio.create_task(c.process.wait()) for c in watched if c.process]
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([*waiters, stopper], return_when=asyncio.FIRST_COMPLETED)
        for child in watched:
            if child.process and child.process.returncode is not None:
                say("dev", f"{child.name} exited with {child.process.returncode}; stopping all")
                return 1
        return 0
    finally:
        say("dev", "stopping")
        await asyncio.gather(*(c.stop() for c in children))
        if broker is not None:
            await broker.stop()
        say("dev", "stopped")


DEV_SOURCE = "dev"


async def ensure_dev_source(settings: TrellisSettings) -> Path:
    """A write key for local experiments, kept in ``data_dir/dev-write-key`` (mode 600).

    Only the key's hash is in the database, so the key file is the copy a developer reads; if it
    is gone, the dev source's key is rotated and the file written again.
    """
    from services.ingest.sources import SourceKind, SourceNotFound, SqlAlchemySourceRepository
    from trellis.db import create_engine

    key_file = settings.data_dir / "dev-write-key"
    engine = create_engine(settings.resolved_database_url)
    try:
        repo = SqlAlchemySourceRepository(engine)
        now = datetime.now(UTC)
        try:
            await repo.get(DEV_SOURCE)
        except SourceNotFound:
            issued = await repo.add(DEV_SOURCE, SourceKind.SDK, now)
        else:
            if key_file.exists():
                return key_file
            issued = await repo.rotate(DEV_SOURCE, now)
    finally:
        await engine.dispose()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(issued.credential + "\n")
    key_file.chmod(0o600)
    return key_file


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
