"""The ingest FastAPI application factory: verify -> translate -> publish; nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from services.ingest import cloudevents, confirm, email_status, native, segment, sms, unsubscribe
from services.ingest.direct import IngestApp
from services.ingest.observability import IngestMetrics, ObservabilityMiddleware, metrics_endpoint
from services.ingest.openapi import document
from services.ingest.pipeline import Pipeline
from services.ingest.publisher import BrokerUnavailable, KafkaEventPublisher
from services.ingest.ratelimit import TokenBucketLimiter
from services.ingest.replay import DeliveredWebhooks
from services.ingest.settings import IngestSettings
from services.ingest.source_cache import CachedWriteKeys
from services.ingest.validation import ForbiddenEvents, InvalidEvents
from trellis import __version__
from trellis.collector import tune_gc
from trellis.db import create_engine
from trellis.health import dependency_problems, health_router
from trellis.kafka import make_producer
from trellis.sources import SqlAlchemySourceRepository

log = logging.getLogger(__name__)

# A database that is down or unreachable surfaces as one of these (SQLAlchemy wraps the driver's
# errors; a refused or reset TCP connection can arrive unwrapped); TimeoutError: a hung connect.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (DBAPIError, OSError, TimeoutError)


def create_app(settings: IngestSettings) -> IngestApp:
    metrics = IngestMetrics()

    @asynccontextmanager
    async def lifespan(app: IngestApp) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url)
        producer = make_producer(settings)
        await producer.start()
        app.state.producer = producer
        app.state.engine = engine
        app.state.settings = settings
        app.state.limiter = TokenBucketLimiter()
        app.state.delivered_webhooks = DeliveredWebhooks()
        app.state.sources = SqlAlchemySourceRepository(engine)
        app.state.write_keys = CachedWriteKeys(app.state.sources, settings.ingest_source_cache_s)
        publisher = KafkaEventPublisher(producer, settings.ingest_publish_timeout_s)
        app.state.pipeline = Pipeline(settings, publisher, metrics)
        if settings.ingest_tune_gc:
            tune_gc()
        if app.telemetry_configured():  # traced requests go through FastAPI's instrumentation
            app.direct_enabled = False
        try:
            yield
        finally:
            await publisher.close()
            await producer.stop()
            await engine.dispose()

    # The body cap for every route, form-reading callbacks included (``read_raw`` enforces the
    # same cap on the JSON routes, and again after gzip).
    app = IngestApp(
        title="Trellis ingest",
        version=__version__,
        lifespan=lifespan,
        max_body_size=settings.ingest_max_body_bytes,
    )
    app.state.metrics = metrics
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.wrap_direct(lambda inner: ObservabilityMiddleware(inner, metrics=metrics))
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    native.add_event_route(app)
    app.include_router(native.router)
    app.include_router(segment.router)
    app.include_router(cloudevents.router)
    app.include_router(unsubscribe.router)
    app.include_router(confirm.router)
    app.include_router(sms.router)
    app.include_router(email_status.router)

    @app.exception_handler(BrokerUnavailable)
    async def _broker_down(_request: Request, exc: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": "event broker unavailable; nothing was accepted, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(settings.ingest_retry_after_s)},
        )

    async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
        """Credentials could not be checked (the source cache was cold and the database did not
        answer): nothing was accepted, so the sender must retry, as for a broker outage."""
        log.warning("database unavailable for a request: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "credential store unavailable; nothing was accepted, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(settings.ingest_retry_after_s)},
        )

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _database_down)

    @app.exception_handler(InvalidEvents)
    async def _invalid(_request: Request, exc: InvalidEvents) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(ForbiddenEvents)
    async def _forbidden(_request: Request, exc: ForbiddenEvents) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=status.HTTP_403_FORBIDDEN)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def ready() -> dict[str, str]:
        """Every POST needs both: credentials from the database, acks from the broker."""
        if not hasattr(app.state, "engine"):
            return {"ingest": "starting"}
        return await dependency_problems(app.state.engine, app.state.producer)

    app.include_router(health_router(ready))

    document(app)  # bodies, errors and credentials the routes' signatures do not show
    return app
