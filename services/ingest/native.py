"""Trellis' own event API: ``POST /v1/events`` (write key) and ``POST /v1/webhooks/{source_id}``
(Standard Webhooks signature). One event or ``{"events": [...]}``; all-or-nothing; 202."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, ValidationError

from schemas.events import EngagementEvent
from services.ingest.auth import WebhookSourceDep, keyed_source
from services.ingest.body import decode, parse_json, read_json
from services.ingest.direct import IngestApp
from services.ingest.historical import historical_request
from services.ingest.pipeline import Pipeline, PipelineDep, SettingsDep
from services.ingest.replay import DeliveredWebhooks
from services.ingest.settings import IngestSettings
from services.ingest.validation import InvalidEvents, Loc

router = APIRouter(prefix="/v1", tags=["events"])


class EventBatch(BaseModel):
    events: list[EngagementEvent] = Field(min_length=1)


class Accepted(BaseModel):
    accepted: int
    ids: list[str]


_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/EngagementEvent"},
                        {"$ref": "#/components/schemas/EventBatch"},
                    ]
                }
            }
        },
    }
}


def parse_events(raw: Any) -> tuple[list[EngagementEvent], list[Loc]]:
    """One event or ``{"events": [...]}``; 422 with each error's location inside the body."""
    try:
        if isinstance(raw, dict) and "events" in raw:
            batch = EventBatch.model_validate(raw)
            return batch.events, [("body", "events", i) for i in range(len(batch.events))]
        return [EngagementEvent.model_validate(raw)], [("body",)]
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise InvalidEvents(errors, None) from None


def accepted_response(accepted: Sequence[EngagementEvent]) -> Response:
    """202 with the ``Accepted`` body, encoded once by orjson (no response-model round trip)."""
    body = orjson.dumps({"accepted": len(accepted), "ids": [e.id for e in accepted]})
    return Response(body, status.HTTP_202_ACCEPTED, media_type="application/json")


async def post_events(request: Request) -> Response:
    """One event or ``{"events": [...]}``, authenticated by write key (HTTP Basic username)."""
    # The hot path, served directly (``IngestApp``): the same checks in the same order as the
    # dependency-injected routes, called without dependency injection.
    source = await keyed_source(request)
    state = request.app.state
    settings: IngestSettings = state.settings
    pipeline: Pipeline = state.pipeline
    _, raw = await read_json(request, settings.ingest_max_body_bytes)
    events, locs = parse_events(raw)
    past = historical_request(request, source)
    return accepted_response(await pipeline.accept(events, locs, source, past))


def add_event_route(app: IngestApp) -> None:
    """``POST /v1/events``: served ahead of the middleware stack, documented like any route."""
    app.add_direct_route(
        "/v1/events",
        post_events,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        openapi_extra=_DOC,
        tags=["events"],
    )


@router.post("/webhooks/{source_id}", status_code=status.HTTP_202_ACCEPTED)
async def post_webhook(
    request: Request, source: WebhookSourceDep, pipeline: PipelineDep, settings: SettingsDep
) -> Accepted:
    """Signed with Standard Webhooks over the body as sent (gzip allowed); the body is one event
    or ``{"events": [...]}``."""
    delivered: DeliveredWebhooks = request.app.state.delivered_webhooks
    webhook_id = request.headers["webhook-id"]
    raw: bytes = request.state.raw_body
    body = decode(raw, request.headers.get("content-encoding"), settings.ingest_max_body_bytes)
    events, locs = parse_events(parse_json(body))
    if delivered.seen(source.id, webhook_id):  # a replay: already on the topic
        return Accepted(accepted=0, ids=[e.id for e in events])
    accepted = await pipeline.accept(events, locs, source, historical_request(request, source))
    delivered.remember(source.id, webhook_id)
    return Accepted(accepted=len(accepted), ids=[e.id for e in accepted])
