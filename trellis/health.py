"""Liveness and readiness that tell the truth: each check touches the real dependency.

``/livez`` answers while the process's event loop runs (restart me if not). ``/readyz`` answers
200 only when this instance can do its work now: the database answers a query, the broker
answers a metadata request and, for a consumer, the group has given it partitions and its batches
are not failing for longer than ``failing_after_s``. Every probe is bounded by a timeout, so a
stalled dependency is a 503, never a hung probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.routing import Route

from trellis.consumer import BatchHandler, Record, Rejected
from trellis.logs import error_kind
from trellis.membership import GroupMembership

PROBE_TIMEOUT_S = 2.0
Check = Callable[[], Awaitable[dict[str, str]]]
"""Returns what is wrong, by dependency name; empty when ready."""


async def database_problem(engine: AsyncEngine, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """A pool that still holds connections says nothing: ask the server a question."""
    try:
        async with asyncio.timeout(timeout_s), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure is "not ready"; name its kind, never its text
        return error_kind(exc)
    return None


async def broker_problem(
    producer: AIOKafkaProducer, timeout_s: float = PROBE_TIMEOUT_S
) -> str | None:
    """Fresh cluster metadata from a broker now, not the client's cached view."""
    try:
        async with asyncio.timeout(timeout_s):
            await producer.client.fetch_all_metadata()
    except Exception as exc:  # any failure is "not ready"
        return error_kind(exc)
    return None


class ConsumerHealth:
    """What a consumer service's ``/readyz`` reads: its clients, membership and batches."""

    def __init__(
        self, name: str, failing_after_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.membership = GroupMembership(name, clock)
        self.failing_after_s = failing_after_s
        self.failing_since: float | None = None
        self.engine: AsyncEngine | None = None
        self.producer: AIOKafkaProducer | None = None
        self._clock = clock

    def bind(self, engine: AsyncEngine, producer: AIOKafkaProducer) -> None:
        self.engine, self.producer = engine, producer

    def watch(self, handler: BatchHandler) -> BatchHandler:
        """``handler``, noting when batches started failing and when one last succeeded."""

        async def watched(records: Sequence[Record]) -> Sequence[Rejected]:
            try:
                rejected = await handler(records)
            except Exception:
                if self.failing_since is None:
                    self.failing_since = self._clock()
                raise
            self.failing_since = None
            return rejected

        return watched

    async def problems(self) -> dict[str, str]:
        """The dependencies asked now, then the group and the batches as last seen."""
        if self.engine is None or self.producer is None:
            return {"consumer": "starting"}
        found = await dependency_problems(self.engine, self.producer)
        return found | self.group_problems()

    def group_problems(self) -> dict[str, str]:
        found: dict[str, str] = {}
        member = self.membership
        if not member.joined:
            found["group"] = "rebalancing" if member.assignments else "not joined yet"
        elif not member.owned:
            found["group"] = "joined, owns no partitions"
        if self.failing_since is not None:
            failing = self._clock() - self.failing_since
            if failing > self.failing_after_s:
                found["batches"] = f"failing for {failing:.0f}s"
        return found


async def dependency_problems(engine: AsyncEngine, producer: AIOKafkaProducer) -> dict[str, str]:
    """The database and the broker, asked at the same time (a probe waits for the slower)."""
    db, broker = await asyncio.gather(database_problem(engine), broker_problem(producer))
    found = {"database": db, "broker": broker}
    return {name: problem for name, problem in found.items() if problem is not None}


async def readiness(check: Check) -> JSONResponse:
    """200 ``{"status": "ready"}``, or 503 with one key per problem."""
    problems = await check()
    if problems:
        return JSONResponse({"status": "unavailable", **problems}, status_code=503)
    return JSONResponse({"status": "ready"})


ALIVE = {"status": "alive"}


def health_router(check: Check, include_in_schema: bool = True) -> APIRouter:
    """``/livez`` (the event loop answers) and ``/readyz`` (``check`` finds nothing wrong)."""
    router = APIRouter(tags=["ops"], include_in_schema=include_in_schema)

    @router.get("/livez")
    async def livez() -> dict[str, str]:
        return ALIVE

    @router.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse:
        return await readiness(check)

    return router


def health_routes(check: Check) -> list[Route]:
    """The same two routes for a bare Starlette app (the notifier's small HTTP port)."""

    async def livez(_request: Request) -> JSONResponse:
        return JSONResponse(ALIVE)

    async def readyz(_request: Request) -> JSONResponse:
        return await readiness(check)

    return [Route("/livez", livez), Route("/readyz", readyz)]
