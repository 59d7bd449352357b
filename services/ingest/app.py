"""The ingest FastAPI application factory: verify -> translate -> publish; nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from schemas.events import EngagementEvent
from services.ingest.publisher import BrokerUnavailable, KafkaEventPublisher
from services.ingest.settings import IngestSettings
from trellis import __version__
from trellis.kafka import make_producer


class EventBatch(BaseModel):
    events: list[EngagementEvent] = Field(min_length=1)


class Accepted(BaseModel):
    accepted: int
    ids: list[str]


def get_publisher(request: Request) -> KafkaEventPublisher:
    publisher: KafkaEventPublisher = request.app.state.publisher
    return publisher


PublisherDep = Annotated[KafkaEventPublisher, Depends(get_publisher)]


def create_app(settings: IngestSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = make_producer(settings)
        await producer.start()
        app.state.producer = producer
        app.state.publisher = KafkaEventPublisher(producer, settings.ingest_publish_timeout_s)
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(title="Trellis ingest", version=__version__, lifespan=lifespan)

    @app.exception_handler(BrokerUnavailable)
    async def _broker_down(_request: Request, exc: BrokerUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": "event broker unavailable; nothing was accepted, retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(settings.ingest_retry_after_s)},
        )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request) -> JSONResponse:
        producer = request.app.state.producer
        try:
            await producer.client.fetch_all_metadata()
        except Exception as exc:  # any failure means "not ready"; say which
            return JSONResponse(
                {"status": "unavailable", "broker": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    @app.post("/v1/events", status_code=status.HTTP_202_ACCEPTED, tags=["events"])
    async def post_events(body: EngagementEvent | EventBatch, publisher: PublisherDep) -> Accepted:
        events = body.events if isinstance(body, EventBatch) else [body]
        if len(events) > settings.ingest_max_batch:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                f"at most {settings.ingest_max_batch} events per request",
            )
        now = datetime.now(UTC)
        stamped = [e.model_copy(update={"received_at": now}) for e in events]
        await publisher.publish(stamped)
        return Accepted(accepted=len(stamped), ids=[e.id for e in stamped])

    return app
