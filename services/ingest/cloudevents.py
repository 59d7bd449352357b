"""CloudEvents 1.0 HTTP binding: binary, structured and batched content modes.

``type`` is a vocabulary type, optionally reverse-DNS prefixed (``com.acme.demo_requested``);
``data`` is a JSON object ``{"contact": ..., "account": ..., "properties": ...}``. The
CloudEvents ``id`` is the event id (the dedup key). Answers 202 once the broker acknowledged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.events import EngagementEvent
from schemas.vocabulary import KNOWN_TYPES
from services.ingest.auth import KeyedSourceDep
from services.ingest.body import parse_json, read_json
from services.ingest.historical import historical_request
from services.ingest.native import Accepted
from services.ingest.pipeline import PipelineDep, SettingsDep
from services.ingest.validation import InvalidEvents, Loc

STRUCTURED = "application/cloudevents+json"
BATCHED = "application/cloudevents-batch+json"

router = APIRouter(prefix="/v1", tags=["cloudevents"])


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
MEDIA_TYPE = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$"  # RFC 2046 type/subtype
_EXTENSION_NAME = re.compile(r"^[a-z0-9]+$")
_INT32 = range(-(2**31), 2**31)


class CloudEventIn(BaseModel):
    """A CloudEvent as the 1.0 spec and its JSON format allow it (the conformance suite's invalid
    events are refused); ``data`` must be our JSON object."""

    model_config = ConfigDict(extra="allow")  # extension attributes are allowed by the spec

    specversion: Literal["1.0"]
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime | None = None
    datacontenttype: str | None = Field(default=None, pattern=MEDIA_TYPE)
    dataschema: str | None = Field(default=None, min_length=1)
    subject: str | None = Field(default=None, min_length=1)
    data: dict[str, Any]

    @field_validator("time", mode="before")
    @classmethod
    def _rfc3339(cls, value: Any) -> Any:
        if isinstance(value, str) and not _RFC3339.match(value):
            raise ValueError("time must be an RFC 3339 timestamp")
        return value

    @model_validator(mode="after")
    def _extensions(self) -> CloudEventIn:
        """Names lower-case letters and digits; values a string, boolean or 32-bit integer."""
        for name, value in (self.model_extra or {}).items():
            if name == "data_base64":
                raise ValueError("data and data_base64 are exclusive")
            if not _EXTENSION_NAME.match(name):
                raise ValueError(f"extension attribute {name!r}: a-z and 0-9 only")
            if not (isinstance(value, str | bool) or (type(value) is int and value in _INT32)):
                raise ValueError(f"extension attribute {name!r}: string, boolean or integer")
        return self


def vocabulary_type(ce_type: str, custom: list[str]) -> str:
    """``com.acme.demo_requested`` -> ``demo_requested`` when that is a known or declared type."""
    tail = ce_type.rsplit(".", 1)[-1]
    if (
        ce_type not in KNOWN_TYPES
        and ce_type not in custom
        and (tail in KNOWN_TYPES or tail in custom)
    ):
        return tail
    return ce_type


def to_event(ce: CloudEventIn, custom: list[str]) -> EngagementEvent:
    when = ce.time or datetime.now(UTC)
    return EngagementEvent.model_validate(
        {
            "id": ce.id,
            "type": vocabulary_type(ce.type, custom),
            "source": ce.source,
            "time": when if when.tzinfo else when.replace(tzinfo=UTC),
            "contact": ce.data.get("contact"),
            "account": ce.data.get("account"),
            "properties": ce.data.get("properties", {}),
        }
    )


def _binary(request: Request, body: bytes) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        k[3:]: v for k, v in request.headers.items() if k.lower().startswith("ce-")
    }
    attributes["datacontenttype"] = request.headers.get("content-type")
    attributes["data"] = parse_json(body)
    return attributes


def _events(items: list[Any], locs: list[Loc], custom: list[str]) -> list[EngagementEvent]:
    events: list[EngagementEvent] = []
    errors: list[dict[str, Any]] = []
    for item, loc in zip(items, locs, strict=True):
        try:
            events.append(to_event(CloudEventIn.model_validate(item), custom))
        except ValidationError as exc:
            errors.extend(
                {"loc": [*loc, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            )
    if errors:
        raise InvalidEvents(errors, None)
    return events


@router.post("/cloudevents", status_code=status.HTTP_202_ACCEPTED)
async def post_cloudevents(
    request: Request, source: KeyedSourceDep, pipeline: PipelineDep, settings: SettingsDep
) -> Accepted:
    """Binary (``ce-*`` headers), structured (``application/cloudevents+json``) or batched
    (``application/cloudevents-batch+json``, a JSON array); all-or-nothing."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    locs: list[Loc]
    body, raw = await read_json(request, settings.ingest_max_body_bytes)
    if media == BATCHED:
        if not isinstance(raw, list):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "a batch is a JSON array")
        if not raw:  # the JSON format allows an empty batch: nothing to publish
            return Accepted(accepted=0, ids=[])
        items, locs = raw, [("body", i) for i in range(len(raw))]
    elif media == STRUCTURED:
        items, locs = [raw], [("body",)]
    elif "ce-specversion" in request.headers:
        items, locs = [_binary(request, body)], [("headers",)]
    else:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"expected ce-* headers, {STRUCTURED} or {BATCHED}",
        )
    custom = settings.ingest_custom_event_types
    past = historical_request(request, source)
    accepted = await pipeline.accept(_events(items, locs, custom), locs, source, past)
    return Accepted(accepted=len(accepted), ids=[e.id for e in accepted])
