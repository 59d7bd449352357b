"""Runs the real ingest app under a real uvicorn server on a free loopback port."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import uvicorn

from schemas.topics import ENGAGEMENT_TOPICS
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.probes import read_topic
from trellis.broker import free_port
from trellis.db import create_engine
from trellis.settings import SERVER_KEEP_ALIVE_S
from trellis.sources import Issued, SourceKind, SqlAlchemySourceRepository


@asynccontextmanager
async def running_ingest(settings: IngestSettings) -> AsyncIterator[str]:
    """Yield the base URL of a started server; shut it down afterwards."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on",
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("ingest server exited before starting")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def arrived(
    bootstrap: str, ids: Iterable[str], until: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The engagement events with these ids, read from the topics ingest publishes on (shared
    broker: filter by id) until all of ``until`` (default: all of ``ids``) are there."""
    wanted = set(ids)
    needed = wanted if until is None else set(until)

    def ids_of(records: list[Any]) -> Iterable[tuple[str, Any]]:
        for r in records:  # the shared topic also holds other tests' poison messages
            with contextlib.suppress(orjson.JSONDecodeError, TypeError, KeyError):
                yield orjson.loads(r.value)["id"], r

    def found(records: list[Any]) -> bool:
        return needed <= {event_id for event_id, _ in ids_of(records)}

    records = await read_topic(bootstrap, ENGAGEMENT_TOPICS, found)  # hand-raises: their own topic
    return {
        event_id: {**orjson.loads(r.value), "_key": r.key.decode()}
        for event_id, r in ids_of(records)
        if event_id in wanted
    }


def sample_event(event_type: str = "demo_requested", **overrides: Any) -> dict[str, Any]:
    """A valid native event with a fresh id."""
    event: dict[str, Any] = {
        "id": f"evt-{uuid.uuid4().hex}",
        "type": event_type,
        "source": "tests",
        "time": "2026-01-05T10:00:00Z",
        "contact": {"external_id": "c-1", "email": "ada@example.com"},
        "account": {"external_id": "acc-1", "domain": "example.com"},
        "properties": {},
    }
    return {**event, **overrides}


async def add_source(
    settings: IngestSettings, name: str, kind: SourceKind, **kwargs: Any
) -> Issued:
    engine = create_engine(settings.resolved_database_url)
    try:
        repo = SqlAlchemySourceRepository(engine)
        return await repo.add(name, kind, datetime.now(UTC), **kwargs)
    finally:
        await engine.dispose()


async def disable_source(settings: IngestSettings, name: str) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        await SqlAlchemySourceRepository(engine).disable(name, datetime.now(UTC))
    finally:
        await engine.dispose()


def basic(write_key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
