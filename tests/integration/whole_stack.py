"""The three services in this process on one isolated broker and database, with a real SMTP
server: for tests that follow one event from ingest's HTTP request to the message received."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.ingest.settings import IngestSettings
from services.notifier.main import run as run_notifier
from services.notifier.settings import NotifierSettings
from services.orchestrator.main import run as run_orchestrator
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.ingest_server import add_source, basic, running_ingest
from tests.integration.notifier_servers import SmtpCatcher, smtp_server
from trellis.broker import free_port
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind

REP = "rep@x.example"


def last_wednesday_noon(now: datetime) -> datetime:
    """Inside every rep's working hours, whatever day the test runs."""
    noon = now.astimezone(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    wednesday = noon - timedelta(days=(noon.weekday() - 2) % 7)
    return wednesday if wednesday <= now else wednesday - timedelta(days=7)


@dataclass
class Stack:
    http: httpx.AsyncClient
    write_key: str
    smtp: SmtpCatcher
    now: datetime
    ops_url: str
    notifier_url: str

    def demo_request(self, email: str) -> dict[str, Any]:
        return {
            "id": f"evt-{uuid.uuid4().hex}",
            "type": "demo_requested",
            "source": "tests",
            "time": (self.now - timedelta(minutes=5)).isoformat(),
            "contact": {"email": email},
            "account": {"domain": email.split("@")[1]},
            "properties": {},
        }

    async def post(self, event: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/v1/events", json=event, headers=basic(self.write_key))


@asynccontextmanager
async def whole_stack(settings: TrellisSettings) -> AsyncIterator[Stack]:
    """Ingest, orchestrator (its ops API on a free port) and notifier (its HTTP port free too);
    the orchestrator's clock is a Wednesday noon so the rep's call reminder is due at once."""
    now = last_wednesday_noon(datetime.now(UTC))
    group = uuid.uuid4().hex[:8]
    ops_port, notifier_port = free_port(), free_port()
    ingest = IngestSettings(**settings.model_dump())
    key = (await add_source(ingest, f"web-{group}", SourceKind.SDK)).credential
    orchestrator = OrchestratorSettings(
        **settings.model_dump(),
        orchestrator_group=f"orc-{group}",
        orchestrator_rep_pool=REP,
        rep_domains="x.example",
        ops_port=ops_port,
    )
    await ensure_topics(orchestrator)
    stop = asyncio.Event()
    async with smtp_server() as (catcher, smtp_port):
        notifier = NotifierSettings(
            **settings.model_dump(),
            notifier_group=f"n-{group}",
            smtp_port=smtp_port,
            notifier_http_port=notifier_port,
            notifier_max_age_s=30 * 86400,  # commands are decided at the fixed clock's time
        )
        tasks = [
            asyncio.create_task(run_orchestrator(orchestrator, stop, lambda: now)),
            asyncio.create_task(run_notifier(notifier, stop)),
        ]
        try:
            async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
                yield Stack(
                    http, key, catcher, now,
                    f"http://127.0.0.1:{ops_port}", f"http://127.0.0.1:{notifier_port}",
                )  # fmt: skip
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
