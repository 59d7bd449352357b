"""The ops API application factory and its server inside the orchestrator process.

The app shares the orchestrator's engine and clock; it only reads state, except for the few
writes people make on purpose (consent, reminder actions, sources). ``OpsServer`` runs uvicorn in
the caller's event loop and leaves signals to the orchestrator (uvicorn's own handlers would
take SIGINT from it), and a port that cannot be bound is logged, never a process exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.ops import (
    consent_routes,
    handoff_routes,
    owner_routes,
    reminder_routes,
    routes,
    source_routes,
)
from services.orchestrator.ops.errors import document_errors, invalid
from services.orchestrator.ops.framing import NoFraming
from services.orchestrator.ops.links import ReminderLinks
from services.orchestrator.ops.models import answers
from services.orchestrator.ops.paging import InvalidCursor
from services.orchestrator.ops.report_models import Health
from services.orchestrator.settings import OrchestratorSettings
from trellis import __version__
from trellis.consumer import is_transient
from trellis.health import Check, health_router
from trellis.http_server import in_loop_config
from trellis.openapi import complete_openapi, method_not_allowed

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def reminder_links(settings: OrchestratorSettings) -> ReminderLinks:
    return ReminderLinks(
        settings.ops_link_secret.get_secret_value().encode(),
        settings.ops_base_url,
        timedelta(days=settings.ops_link_ttl_days),
    )


def create_ops_app(
    engine: AsyncEngine,
    settings: OrchestratorSettings,
    clock: Callable[[], datetime] = _utc_now,
    registry: CollectorRegistry | None = None,
    ready: Check | None = None,
) -> FastAPI:
    """The ops API on ``engine`` (owned by the caller: the app never disposes of it);
    ``registry``: the orchestrator's metrics, served unauthenticated at ``/metrics`` as ingest's
    are (Prometheus scrapes without a key; bind the port to a private network)."""
    app = FastAPI(
        title="Trellis ops API",
        version=__version__,
        description="Contacts, accounts, touches, decisions (why), rep reminders, consent, "
        "funnel metrics and ingest sources. Authenticate with `Authorization: Bearer <key>` "
        "(`trellis keys add --scope admin|rep|read`).",
    )
    app.state.engine = engine
    app.state.clock = clock
    app.state.links = reminder_links(settings)
    app.state.nurture = settings.load_nurture()  # consent bases; what a withdrawal cancels
    app.state.bases = app.state.nurture.legal_basis
    rollup = settings.load_playbook().accounts  # the account answer's committee and its gap
    app.state.committee_roles = tuple(rollup.committee_roles)
    app.state.wanted_roles = rollup.wanted_roles
    for router in (
        routes.contacts_router, consent_routes.router, routes.accounts_router,
        routes.touches_router, reminder_routes.router, handoff_routes.router, owner_routes.router,
        routes.funnel_router, routes.decisions_router, source_routes.router,
    ):  # fmt: skip
        app.include_router(router)
    app.include_router(dashboard_router(engine, settings, clock))  # the pages under /ui
    app.add_middleware(NoFraming)  # /docs, /redoc and the link pages: never in a frame

    @app.exception_handler(InvalidCursor)
    async def _bad_cursor(_request: Request, exc: InvalidCursor) -> JSONResponse:
        error = invalid("query", "cursor", str(exc))
        return JSONResponse({"detail": error.detail}, status_code=error.status_code)

    @app.exception_handler(DBAPIError)
    async def _database_down(_request: Request, exc: DBAPIError) -> JSONResponse:
        """A dropped connection (the pool pings nothing on checkout) or a database that is
        down: 503 and a retry, as ingest answers; anything else is the server's own error."""
        if not is_transient(exc):
            raise exc
        log.warning("ops request failed on the database (%s); answered 503", type(exc).__name__)
        message = "the database is unavailable; retry shortly"
        return JSONResponse(
            {"detail": {"error": "database_unavailable", "message": message}},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.get("/healthz", tags=["ops"], **answers(Health))
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if registry is not None:
        metrics = registry

        async def metrics_endpoint(_request: Request) -> Response:
            return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

        app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    if ready is not None:  # the orchestrator's consumer: /livez, /readyz
        app.include_router(health_router(ready, include_in_schema=False))
    complete_openapi(app, document_errors)  # every error status an operation answers
    app.add_exception_handler(405, method_not_allowed)
    return app


class _SharedLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the orchestrator owns SIGINT/SIGTERM and stops us through ``stop``


class OpsServerFailed(RuntimeError):
    pass


class OpsServer:
    """uvicorn on ``host:port`` in the running loop: ``start`` returns once it listens."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = in_loop_config(app, host, port)
        self.server = _SharedLoopServer(config)
        self.address = f"{host}:{port}"
        self._task: asyncio.Task[None] | None = None

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        except SystemExit:  # uvicorn exits the process when it cannot bind; we must not
            raise OpsServerFailed(f"ops API could not listen on {self.address}") from None

    async def start(self, deadline_s: float = 10.0) -> None:
        self._task = asyncio.create_task(self._serve(), name="ops-api")
        end = asyncio.get_running_loop().time() + deadline_s
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises OpsServerFailed
                raise OpsServerFailed(f"ops API stopped before listening on {self.address}")
            if asyncio.get_running_loop().time() > end:
                raise OpsServerFailed(
                    f"ops API not listening on {self.address} after {deadline_s}s"
                )
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task


async def serve_ops(app: FastAPI, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve until ``stop``; a failure to listen is logged and the orchestrator carries on
    (consuming events matters more than the ops API)."""
    server = OpsServer(app, host, port)
    try:
        await server.start()
    except OpsServerFailed as exc:
        log.error("%s; the orchestrator keeps consuming without it", exc)
        return
    log.info("ops API on http://%s (OpenAPI at /docs)", server.address)
    await stop.wait()
    await server.stop()
