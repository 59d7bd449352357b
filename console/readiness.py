"""When ``trellis dev`` may say "ready": every service's own ``/readyz`` answers 200.

Ingest's means the broker and database answer; the orchestrator's (on the ops API) and the
notifier's (on its metrics port) mean, besides, that their consumers joined their groups and own
partitions, so an event posted now is consumed now rather than after a rebalance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from console.supervisor import say
from services.ingest.settings import IngestSettings
from services.notifier.settings import NotifierSettings
from services.orchestrator.settings import OrchestratorSettings

POLL_S = 0.1


@dataclass(frozen=True)
class Probe:
    service: str
    url: str


def service_probes() -> list[Probe]:
    """The ``/readyz`` of each service ``trellis dev`` runs, from the same settings they read
    (a service whose port is off or chosen at random is not probed)."""
    ingest, orchestrator = IngestSettings(), OrchestratorSettings()
    notifier = NotifierSettings()
    probes = [Probe("ingest", f"http://{ingest.ingest_host}:{ingest.ingest_port}/readyz")]
    if orchestrator.ops_serve and orchestrator.ops_port:
        ops = f"http://{orchestrator.ops_host}:{orchestrator.ops_port}/readyz"
        probes.append(Probe("orchestrator", ops))
    if notifier.notifier_http_port:
        http = f"http://{notifier.notifier_http_host}:{notifier.notifier_http_port}/readyz"
        probes.append(Probe("notifier", http))
    return probes


async def not_ready(client: httpx.AsyncClient, probe: Probe) -> str | None:
    """None when ready, else what the service says is missing (or that it does not answer)."""
    try:
        reply = await client.get(probe.url)
    except httpx.HTTPError:
        return "not answering yet"
    if reply.status_code == 200:
        return None
    try:
        body = reply.json()
    except ValueError:
        return f"HTTP {reply.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {reply.status_code}"
    return ", ".join(f"{k}: {v}" for k, v in body.items() if k != "status") or "unavailable"


async def wait_until_ready(
    probes: Sequence[Probe], stopping: asyncio.Event, report_every_s: float = 10.0
) -> dict[str, str] | None:
    """Poll until every probe answers 200 (returns None), or ``stopping`` is set (returns what
    was still missing). What is missing is said every ``report_every_s``: a stuck start shows."""
    loop = asyncio.get_running_loop()
    next_report = loop.time() + report_every_s
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0)) as client:
        while True:
            answers = await asyncio.gather(*(not_ready(client, p) for p in probes))
            missing = {p.service: a for p, a in zip(probes, answers, strict=True) if a}
            if not missing:
                return None
            if stopping.is_set():
                return missing
            if loop.time() >= next_report:
                say("dev", waiting_line(missing))
                next_report = loop.time() + report_every_s
            await asyncio.sleep(POLL_S)


def waiting_line(missing: dict[str, str]) -> str:
    return "not ready yet: " + "; ".join(f"{name} ({why})" for name, why in missing.items())
