"""``trellis dev``: the whole pipeline on one machine, each service in its own process.

Starts the embedded broker (unless ``TRELLIS_KAFKA_BOOTSTRAP`` names a real one), migrates the
database, creates the topics, then runs ingest, orchestrator and notifier as child processes whose
output is prefixed with their name. With no SMTP server or SMS API configured, a ``sinks`` child
(``trellis dev-sinks``) stands in for them and keeps every message in ``<data_dir>/outbox/``.

It keeps going: a service that crashes is restarted with back-off (``console.supervisor``) and
said "ready again" once its ``/readyz`` answers. It says "ready" only when every service's
``/readyz`` does, i.e. the consumers have joined their groups and own partitions
(``console.readiness``). The embedded broker is the exception: it is memory-only, so its death
takes every topic and offset with it and the stack stops, saying why. Ctrl-C (or SIGTERM) stops
everything; children also die with the supervisor if it is killed outright, so nothing is left
orphaned.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from console.databases import database_urls, migrate_all
from console.dev_keys import ensure_dev_admin_key, ensure_dev_rep_key, ensure_dev_source
from console.dev_plan import DEV_REP, configure_dev_rep
from console.readiness import Probe, service_probes, wait_until_ready
from console.supervisor import Child, exit_words, keep_running, say
from services.notifier.devsinks import dev_env
from services.notifier.settings import NotifierDatabase, NotifierSettings
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import MEMORY_ONLY_WARNING, EmbeddedBroker, port_in_use, wait_for_metadata
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

BROKER_DIED = (
    "the embedded broker is memory-only: every topic, offset and queued command died with it, "
    "and the services must not carry on against a new, empty one. Stopping everything; "
    "start again with `make run`"
)


def service_children() -> list[Child]:
    exe = [sys.executable, "-m", "console.cli"]
    return [
        Child("ingest", [*exe, "ingest"]),
        Child("orchestrator", [*exe, "orchestrator"]),
        Child("notifier", [*exe, "notifier"]),
    ]


def dev_sinks_child(env: dict[str, str]) -> tuple[Child | None, list[int]]:
    """The local SMTP catcher / SMS sink for whichever provider nobody configured, and the
    ports to wait for; ``env`` gains the variables pointing the notifier at them."""
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


async def prepare(settings: TrellisSettings, env: dict[str, str]) -> None:
    """Database, topics, keys and the dev rep, each said in one line."""
    urls = database_urls(NotifierDatabase())
    say("dev", f"migrating {', '.join(_redact(url) for url in urls)}")
    await migrate_all(NotifierDatabase())
    created = await ensure_topics(settings)
    say("dev", f"topics ready ({len(created)} created)")
    key_file = await ensure_dev_source(settings)
    say("dev", f"dev write key (sdk: behaviour; HTTP Basic username) in {key_file}; crm, consent "
               "and server keys beside it")  # fmt: skip
    ops = OrchestratorSettings()
    base = f"http://{ops.ops_host}:{ops.ops_port}"
    admin = await ensure_dev_admin_key(settings)
    say("dev", f"dashboard on {base}/ui/ and ops API on {base}/docs; admin key in {admin}")
    for line in configure_dev_rep(env, settings.data_dir):
        say("dev", line)
    if env["TRELLIS_ORCHESTRATOR_REP_POOL"] == DEV_REP:
        rep_key = await ensure_dev_rep_key(settings, DEV_REP)
        say("dev", f"the dev rep's inbox: log in to {base}/ui/ with the key in {rep_key}")


async def run_dev(settings: TrellisSettings) -> int:
    stopping = asyncio.Event()  # Ctrl-C, SIGTERM, or the embedded broker's death
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    env = dict(os.environ)
    broker: Child | None = None
    sinks: Child | None = None
    children = service_children()
    tasks: list[asyncio.Task[None]] = []
    broker_died = False
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
        await prepare(settings, env)
        sinks, ports = dev_sinks_child(env)
        if sinks is not None:
            await sinks.start(env)
            await wait_for_ports(ports, deadline_s=60)  # a loaded machine: imports take time
            say("dev", f"sent messages are written to {settings.data_dir / 'outbox'}")
        started = loop.time()
        for child in children:
            await child.start(env)
        say("dev", "pipeline running; Ctrl-C stops everything")
        probes = service_probes()

        def watch_readiness(child: Child) -> None:
            mine = [p for p in probes if p.service == child.name]
            tasks.append(asyncio.create_task(_ready_again(child, mine, stopping)))

        for child in [*children, *([sinks] if sinks else [])]:
            kept = keep_running(child, env, stopping, on_restart=watch_readiness)
            tasks.append(asyncio.create_task(kept, name=f"keep-{child.name}"))
        if broker is not None:
            assert broker.process is not None
            broker_exit = asyncio.create_task(broker.process.wait())
            broker_exit.add_done_callback(lambda _: stopping.set())
        missing = await wait_until_ready(probes, stopping)
        if missing is None:
            names = ", ".join(p.service for p in probes)
            say("dev", f"ready in {loop.time() - started:.1f}s: {names} answer /readyz (the "
                       "consumers joined their groups and own partitions)")  # fmt: skip
        await stopping.wait()
        if broker is not None and broker.process and broker.process.returncode is not None:
            broker_died = True
            say("dev", f"broker {exit_words(broker.process.returncode)}: {BROKER_DIED}")
        return 1 if broker_died else 0
    finally:
        stopping.set()
        say("dev", "stopping")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.stop() for c in children))  # the notifier before its sinks
        if sinks is not None:
            await sinks.stop()
        if broker is not None:
            await broker.stop()
        say("dev", "stopped")


async def _ready_again(child: Child, probes: Sequence[Probe], stopping: asyncio.Event) -> None:
    if probes and await wait_until_ready(probes, stopping) is None:
        say("dev", f"{child.name} ready again (restart {child.restarts})")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
