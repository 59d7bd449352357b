"""``trellis dev``: the whole pipeline on one machine, each service in its own process.

Starts the embedded broker (unless ``TRELLIS_KAFKA_BOOTSTRAP`` names a real one), migrates the
database, creates the topics, then runs ingest, orchestrator and notifier as child processes whose
output is prefixed with their name. With no SMTP server or SMS API configured, a ``sinks`` child
(``trellis dev-sinks``) stands in for them and keeps every message in ``<data_dir>/outbox/``.
Ctrl-C (or SIGTERM) stops them all; children also die with the supervisor if it is killed
outright (PR_SET_PDEATHSIG), so nothing is left orphaned.
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

from trellis.broker import MEMORY_ONLY_WARNING, EmbeddedBroker, port_in_use, wait_for_metadata
from trellis.kafka import ensure_topics
from trellis.migrate import upgrade_async
from trellis.settings import TrellisSettings

COLOURS = {
    "broker": 35,
    "ingest": 36,
    "orchestrator": 33,
    "notifier": 32,
    "sinks": 34,
    "dev": 1,
}
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
    exe = [sys.executable, "-m", "console.cli"]
    return [
        Child("ingest", [*exe, "ingest"]),
        Child("orchestrator", [*exe, "orchestrator"]),
        Child("notifier", [*exe, "notifier"]),
    ]


DEV_REP_DOMAIN = "trellis.example"


def dev_sinks_child(env: dict[str, str]) -> tuple[Child | None, list[int]]:
    """The local SMTP catcher / SMS sink for whichever provider nobody configured, and the
    ports to wait for; ``env`` gains the variables pointing the notifier at them."""
    from services.notifier.devsinks import dev_env
    from services.notifier.settings import NotifierSettings

    extra = dict(dev_env(NotifierSettings()))
    if not extra:
        return None, []
    env.update(extra)
    argv = [sys.executable, "-m", "console.cli", "dev-sinks"]
    argv += ["--smtp" if "TRELLIS_SMTP_PORT" in extra else "--no-smtp"]
    argv += ["--sms" if "TRELLIS_SMS_BASE_URL" in extra else "--no-sms"]
    ports = [int(extra["TRELLIS_SMTP_PORT"])] if "TRELLIS_SMTP_PORT" in extra else []
    if "TRELLIS_SMS_BASE_URL" in extra:
        ports.append(int(extra["TRELLIS_SMS_BASE_URL"].rsplit(":", 1)[1]))
    return Child("sinks", argv), ports


async def wait_for_ports(ports: Sequence[int], deadline_s: float) -> None:
    end = asyncio.get_running_loop().time() + deadline_s
    while not all(port_in_use("127.0.0.1", p) for p in ports):
        if asyncio.get_running_loop().time() > end:
            raise RuntimeError(f"dev sinks not listening on {list(ports)} after {deadline_s}s")
        await asyncio.sleep(0.05)


async def run_dev(settings: TrellisSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    env = dict(os.environ)
    # ``trellis demo``'s CRM names owners at this domain: locally they are reps.
    env.setdefault("TRELLIS_REP_DOMAINS", DEV_REP_DOMAIN)
    broker: Child | None = None
    sinks: Child | None = None
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
        say(
            "dev",
            f"dev write key (sdk: behaviour; HTTP Basic username) in {key_file}; crm, consent "
            "and server keys beside it",
        )
        say("dev", await ensure_dev_admin_key(settings))
        sinks, ports = dev_sinks_child(env)
        if sinks is not None:
            children.insert(0, sinks)
            await sinks.start(env)
            await wait_for_ports(ports, deadline_s=15)
            say("dev", f"sent messages are written to {settings.data_dir / 'outbox'}")
        for child in children[1 if sinks else 0 :]:
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
        services = [c for c in children if c is not sinks]
        await asyncio.gather(*(c.stop() for c in services))  # the notifier before its sinks
        if sinks is not None:
            await sinks.stop()
        if broker is not None:
            await broker.stop()
        say("dev", "stopped")


async def ensure_dev_source(settings: TrellisSettings) -> Path:
    """Write keys for local experiments, one source per kind (``dev`` is the sdk one, the
    others ``dev-server``, ``dev-crm``, ``dev-consent``), kept in ``data_dir/dev-write-key``
    and ``data_dir/dev-<kind>-write-key`` (mode 600); returns the sdk key's file.

    Only a key's hash is in the database, so the key file is the copy a developer reads; if it
    is gone, that source's key is rotated and the file written again.
    """
    from trellis.db import create_engine
    from trellis.producers import DEV_KINDS, dev_key_file_name, dev_source_name
    from trellis.sources import SourceNotFound, SqlAlchemySourceRepository

    engine = create_engine(settings.resolved_database_url)
    try:
        repo = SqlAlchemySourceRepository(engine)
        for kind in DEV_KINDS:
            key_file = settings.data_dir / dev_key_file_name(kind)
            name = dev_source_name(kind)
            now = datetime.now(UTC)
            try:
                source = await repo.get(name)
            except SourceNotFound:
                issued = await repo.add(name, kind, now)
            else:
                if source.kind is not kind:  # a dev source from before kinds existed
                    await repo.set_kind(name, kind, now)
                if key_file.exists():
                    continue
                issued = await repo.rotate(name, now)
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(issued.credential + "\n")
            key_file.chmod(0o600)
    finally:
        await engine.dispose()
    return settings.data_dir / dev_key_file_name(DEV_KINDS[0])


async def ensure_dev_admin_key(settings: TrellisSettings) -> str:
    """An admin key for the ops API in ``data_dir/dev-admin-key`` (mode 600); a line to print.

    As with the write key only the hash is stored: a missing file (or a key no longer valid)
    gets a fresh key and the previous dev admin keys are revoked.
    """
    from services.orchestrator.ops.auth import Scope, issue_key, key_for, revoke_key
    from services.orchestrator.settings import OrchestratorSettings
    from trellis.db import create_engine, transaction

    ops = OrchestratorSettings()
    key_file = settings.data_dir / "dev-admin-key"
    base = f"http://{ops.ops_host}:{ops.ops_port}"
    where = f"dashboard on {base}/ui/ and ops API on {base}/docs; admin key in {key_file}"
    engine = create_engine(settings.resolved_database_url)
    try:
        async with transaction(engine) as conn:
            if key_file.exists() and await key_for(conn, key_file.read_text().strip()):
                return where
            now = datetime.now(UTC)
            await revoke_key(conn, DEV_ADMIN_KEY, now)
            issued = await issue_key(conn, Scope.ADMIN, now, name=DEV_ADMIN_KEY)
    finally:
        await engine.dispose()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(issued.secret + "\n")
    key_file.chmod(0o600)
    return where


DEV_ADMIN_KEY = "dev-admin"


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
