"""Segment HTTP Tracking API compatibility: identify, track, group, page, screen, batch.

Answers ``200 {"success": true}`` once the broker acknowledged (RudderStack's SDK treats any
other 2xx as a failure). Segment's documented limits hold: 32 KB per event, 500 KB per batch,
both answered 400. The write key is the HTTP Basic username, or ``writeKey`` in the body.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from schemas.events import EngagementEvent
from services.ingest.auth import FORBIDDEN, UNAUTHORIZED, SourcesDep, write_key_from
from services.ingest.body import read_json
from services.ingest.historical import historical_request
from services.ingest.pipeline import PipelineDep, SettingsDep
from services.ingest.ratelimit import enforce_rate_limit
from services.ingest.segment_spec import SPEC_EVENTS, spec_properties
from services.ingest.source_cache import CachedWriteKeys
from services.ingest.validation import InvalidEvents, Loc
from trellis.sources import Auth, Source

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
CALL_TYPES = ("identify", "track", "group", "page", "screen")
PAGE_CONTEXT = ("url", "path", "referrer", "title", "search")
"""``context.page`` fields analytics.js fills on every call; a page's ``properties`` win."""

router = APIRouter(prefix="/v1", tags=["segment"])


class Success(BaseModel):
    success: bool = True


class SegmentCall(BaseModel):
    """The Segment Spec common fields (unknown ones are ignored, as Segment does)."""

    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    messageId: str | None = Field(default=None, max_length=200)
    # StrictInt: pydantic's lax int would take a JSON ``true`` as 1
    userId: str | StrictInt | None = None
    anonymousId: str | StrictInt | None = None
    groupId: str | StrictInt | None = None
    event: str | None = Field(default=None, max_length=200)
    name: str | None = None
    category: str | None = None
    timestamp: datetime | None = None
    traits: dict[str, Any] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)


_CALLS: TypeAdapter[list[SegmentCall]] = TypeAdapter(list[SegmentCall])
_EVENTS: TypeAdapter[list[EngagementEvent]] = TypeAdapter(list[EngagementEvent])
_CALL_EVENT_TYPES = {
    "identify": "contact_identified",
    "group": "account_linked",
    "page": "page_viewed",
    "screen": "page_viewed",
}


@functools.lru_cache(maxsize=4096)  # a source tracks a few dozen event names, over and over
def _snake_case(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def event_type_for(call: SegmentCall) -> str:
    """A Segment Spec event by its table (``"Email Link Clicked"`` is ``email_clicked``), any
    other track name in snake case (``"Demo Requested"`` is ``demo_requested``); page and
    screen are ``page_viewed``."""
    if call.type == "track":
        spec = SPEC_EVENTS.get(call.event or "")
        return spec.type if spec is not None else _snake_case(call.event or "")
    return _CALL_EVENT_TYPES[call.type or ""]


def _properties(call: SegmentCall) -> dict[str, Any]:
    """Track: spec properties renamed to ours. Page and screen: ``context.page`` under the
    call's own ``properties``, ``name`` (the title when none is given) and ``category``."""
    if call.type == "track":
        spec = SPEC_EVENTS.get(call.event or "")
        return dict(call.properties) if spec is None else spec_properties(spec, call.properties)
    if call.type not in ("page", "screen"):
        return dict(call.properties)
    page = call.context.get("page") if call.type == "page" else None
    seen = {k: page[k] for k in PAGE_CONTEXT if k in page} if isinstance(page, dict) else {}
    properties = {**seen, **call.properties}
    if call.name:
        properties.setdefault("name", call.name)
        properties.setdefault("title", call.name)
    if call.category:
        properties.setdefault("category", call.category)
    return properties


def translate(call: SegmentCall, source: Source, received: datetime) -> EngagementEvent:
    return EngagementEvent.model_validate(_envelope(call, source, received))


def _envelope(call: SegmentCall, source: Source, received: datetime) -> dict[str, Any]:
    """Our event envelope for a Segment call, not yet validated."""
    context_traits = call.context.get("traits")
    person = call.traits or (context_traits if isinstance(context_traits, dict) else {})
    email = person.get("email")
    contact: dict[str, Any] = {
        "external_id": None if call.userId is None else str(call.userId),
        "anonymous_id": None if call.anonymousId is None else str(call.anonymousId),
        "email": email if isinstance(email, str) and email else None,
        "traits": person if call.type == "identify" else {},
    }
    group_id = call.groupId if call.groupId is not None else call.context.get("groupId")
    account = None
    if group_id is not None:
        account = {
            "external_id": str(group_id),
            "traits": call.traits if call.type == "group" else {},
        }
    properties = _properties(call)
    when = call.timestamp or received
    return {
        "id": call.messageId or f"seg-{uuid.uuid4()}",
        "type": event_type_for(call),
        "source": f"segment:{source.name}",
        "time": when if when.tzinfo else when.replace(tzinfo=UTC),
        "contact": contact,
        "account": account,
        "properties": properties,
    }


def _to_events(
    items: list[Any], source: Source, locs: list[Loc], body_bytes: int
) -> list[EngagementEvent]:
    """Each call translated and validated, or ``InvalidEvents`` locating every error.

    A valid batch is validated as two lists (one call into pydantic-core each, not two per
    event); only a batch with an error is walked call by call, to locate each one."""
    received = datetime.now(UTC)
    if body_bytes > MAX_EVENT_BYTES:  # else no single event can be over the cap
        for item, loc in zip(items, locs, strict=True):
            if len(orjson.dumps(item)) > MAX_EVENT_BYTES:
                raise HTTPException(
                    status.HTTP_400_BAD_REQUEST,
                    f"{list(loc)}: event over {MAX_EVENT_BYTES} bytes",
                )
    try:
        calls = _CALLS.validate_python(items)
        if all(call.type in CALL_TYPES for call in calls):
            return _EVENTS.validate_python([_envelope(c, source, received) for c in calls])
    except ValidationError:
        pass
    return _one_by_one(items, source, locs, received)


def _one_by_one(
    items: list[Any], source: Source, locs: list[Loc], received: datetime
) -> list[EngagementEvent]:
    events: list[EngagementEvent] = []
    errors: list[dict[str, Any]] = []
    for item, loc in zip(items, locs, strict=True):
        try:
            call = SegmentCall.model_validate(item)
            if call.type not in CALL_TYPES:
                raise ValueError(f"type must be one of {', '.join(CALL_TYPES)}")
            events.append(translate(call, source, received))
        except ValidationError as exc:
            errors.extend(
                {"loc": [*loc, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            )
        except ValueError as exc:
            errors.append({"loc": [*loc, "type"], "msg": str(exc), "type": "value_error"})
    if errors:
        raise InvalidEvents(errors, None)
    return events


async def _authenticate(request: Request, repo: SourcesDep, body: Any) -> Source:
    key = write_key_from(request.headers.get("authorization"))
    if key is None and isinstance(body, dict) and isinstance(body.get("writeKey"), str):
        key = body["writeKey"]
    write_keys: CachedWriteKeys = request.app.state.write_keys
    source = None if not key else await write_keys.by_write_key(key)
    if source is None or source.auth is not Auth.WRITE_KEY:
        raise UNAUTHORIZED
    if source.disabled:
        raise FORBIDDEN
    enforce_rate_limit(request, source)
    return source


async def _segment_body(request: Request, settings: SettingsDep) -> tuple[bytes, Any]:
    body, raw = await read_json(request, settings.ingest_max_body_bytes)
    if len(body) > MAX_BATCH_BYTES:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"batch over {MAX_BATCH_BYTES} bytes")
    if not isinstance(raw, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body must be a JSON object")
    return body, raw


BodyDep = Annotated[tuple[bytes, Any], Depends(_segment_body)]


@router.post("/batch")
async def batch(
    request: Request, body: BodyDep, repo: SourcesDep, pipeline: PipelineDep
) -> Success:
    raw = body[1]
    source = await _authenticate(request, repo, raw)
    items = raw.get("batch")
    if not isinstance(items, list) or not items:
        raise InvalidEvents(
            [{"loc": ["body", "batch"], "msg": "a non-empty list", "type": "list_type"}], None
        )
    shared = raw.get("context")
    if isinstance(shared, dict) and shared:
        items = with_batch_context(items, shared)
    locs: list[Loc] = [("body", "batch", i) for i in range(len(items))]
    past = historical_request(request, source)
    await pipeline.accept(_to_events(items, source, locs, len(body[0])), locs, source, past)
    return Success()


def with_batch_context(items: list[Any], shared: dict[str, Any]) -> list[Any]:
    """The batch's ``context`` merged into each call's, the call's own keys winning (as the
    HTTP API documents for ``batch``)."""
    out = []
    for item in items:
        own = item.get("context") if isinstance(item, dict) else None
        if isinstance(item, dict) and (own is None or isinstance(own, dict)):
            item = {**item, "context": {**shared, **(own or {})}}
        out.append(item)
    return out


def _single(call_type: str) -> Any:
    async def endpoint(
        request: Request, body: BodyDep, repo: SourcesDep, pipeline: PipelineDep
    ) -> Success:
        raw = body[1]
        source = await _authenticate(request, repo, raw)
        item = {**raw, "type": call_type}
        events = _to_events([item], source, [("body",)], len(body[0]))
        await pipeline.accept(events, [("body",)], source, historical_request(request, source))
        return Success()

    endpoint.__name__ = call_type
    return endpoint


for _call in CALL_TYPES:
    router.add_api_route(f"/{_call}", _single(_call), methods=["POST"], response_model=Success)
