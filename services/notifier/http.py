"""The notifier's small HTTP port: ``/metrics`` for Prometheus, ``/livez`` and ``/readyz``.

A bare Starlette app (no OpenAPI: nothing here is an API) served by uvicorn in the notifier's
own event loop, signals left to the notifier. A port that cannot be bound is logged, and the
notifier carries on sending: messages matter more than their metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trellis.health import Check, health_routes
from trellis.http_server import in_loop_config

log = logging.getLogger(__name__)


def create_http_app(registry: CollectorRegistry, ready: Check | None = None) -> Starlette:
    """``ready``: the consumer's readiness (``/livez``, ``/readyz``; ``trellis.health``)."""

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [Route("/metrics", metrics), Route("/healthz", healthz)]
    return Starlette(routes=routes + (health_routes(ready) if ready is not None else []))


class _LoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # run_consumer owns SIGINT/SIGTERM and stops us through ``stop``


async def serve_http(app: Starlette, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set."""
    config = in_loop_config(app, host, port)
    server = _LoopServer(config)
    task = asyncio.create_task(server.serve(), name="notifier-http")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # uvicorn raises SystemExit when it cannot bind
        stopping.cancel()
        with contextlib.suppress(BaseException):
            task.result()
        log.error("notifier HTTP could not listen on %s:%d; sending goes on", host, port)
        return
    server.should_exit = True
    await task
