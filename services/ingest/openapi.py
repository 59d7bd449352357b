"""Ingest's OpenAPI document, completed from one table: what FastAPI cannot see of a route.

Most routes read their body themselves (size cap while streaming, gzip, Segment's limits) and
authenticate by hand, so FastAPI documents neither their request body, nor the errors they
answer, nor their credentials. ``OPERATIONS`` says it for each ``(method, path)``; a new route
is one row, a new error of a group of routes is one status in its tuple. The error bodies are
those the app's exception handlers write (``app.py``), the request bodies are generated from the
same pydantic models the routes validate with. A route missing from the table is a failing test
(``tests/unit/test_ingest_openapi.py``), so the document cannot silently fall behind.

``/docs`` and ``/redoc`` are also answered with anti-framing headers here (clickjacking).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, status
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.events import EngagementEvent
from services.ingest.cloudevents import BATCHED, STRUCTURED, CloudEventIn
from services.ingest.email_status import EmailStatusCallback
from services.ingest.native import EventBatch
from services.ingest.openapi_answers import (
    ERROR_SCHEMAS,
    ERRORS,
    PAGE_ERRORS,
    REF,
    SECURITY_SCHEMES,
    SIGNED,
    TOKEN,
    TWILIO,
    TWILIO_AND_TOKEN,
    WRITE_KEY,
    Security,
    media,
    ref,
)
from services.ingest.segment import CALL_TYPES, SegmentCall
from trellis.openapi import complete_openapi, method_not_allowed

MODELS: tuple[type[BaseModel], ...] = (
    EngagementEvent, EventBatch, SegmentCall, CloudEventIn, EmailStatusCallback,
)  # fmt: skip


def _form(**fields: str) -> dict[str, Any]:
    """A urlencoded form of string fields, each with its description."""
    properties = {name: {"type": "string", "description": text} for name, text in fields.items()}
    return media({"type": "object", "properties": properties}, "application/x-www-form-urlencoded")


# --- the table -----------------------------------------------------------------------------

EVENT_ERRORS = (400, 401, 403, 413, 415, 422, 429, 503)
"""Every route that accepts events or outcomes under a source's credential."""
TOKEN_ERRORS = (400, 403, 413, 503)
"""Links and callbacks authorised by a signed token."""
SMS_ERRORS = (401, 413, 503)


@dataclass(frozen=True)
class Doc:
    """What FastAPI cannot see of one operation."""

    errors: tuple[int, ...] = ()
    body: Mapping[str, Any] | None = None  # request body content, by media type
    body_required: bool = True
    security: Security = ()
    ok: Mapping[str, Any] | None = None  # the success answer's content, when not JSON
    page: bool = False  # errors answered as an HTML page
    answers: Mapping[str, Any] | None = None  # other answers, by status, as written


ONE_OR_MANY = {"anyOf": [ref("EngagementEvent"), ref("EventBatch")]}
SEGMENT_BATCH = {
    "type": "object",
    "properties": {
        "batch": {
            "type": "array",
            "minItems": 1,
            "items": {
                "allOf": [
                    ref("SegmentCall"),
                    {"required": ["type"], "properties": {"type": {"enum": list(CALL_TYPES)}}},
                ]
            },
        },
        "writeKey": {"type": "string", "description": "Instead of HTTP Basic."},
    },
    "required": ["batch"],
}
SEGMENT = Doc(EVENT_ERRORS, media(ref("SegmentCall")), security=WRITE_KEY)
TWIML = {"application/xml": {"schema": {"type": "string"}}}
UNSUBSCRIBE_FORM = _form(**{"List-Unsubscribe": "One-Click", "token": "instead of ?token="})

READYZ_503 = {
    "description": (
        "The database or the broker does not answer (each that failed: its error's class name)."
    ),
    "content": media(
        {
            "type": "object",
            "properties": {
                "status": {"const": "unavailable"},
                "database": {"type": "string"},
                "broker": {"type": "string"},
                "ingest": {"const": "starting"},
            },
            "required": ["status"],
        }
    ),
}

OPERATIONS: dict[tuple[str, str], Doc] = {
    ("post", "/v1/events"): Doc(EVENT_ERRORS, media(ONE_OR_MANY), security=WRITE_KEY),
    ("post", "/v1/webhooks/{source_id}"): Doc(EVENT_ERRORS, media(ONE_OR_MANY), security=SIGNED),
    ("post", "/v1/batch"): Doc(EVENT_ERRORS, media(SEGMENT_BATCH), security=WRITE_KEY),
    **{("post", f"/v1/{call}"): SEGMENT for call in CALL_TYPES},
    ("post", "/v1/cloudevents"): Doc(
        EVENT_ERRORS,
        {
            **media(ref("CloudEventIn"), STRUCTURED),
            **media({"type": "array", "items": ref("CloudEventIn")}, BATCHED),
        },
        security=WRITE_KEY,
    ),
    ("post", "/v1/email/status"): Doc(
        EVENT_ERRORS, media(ref("EmailStatusCallback")), security=WRITE_KEY
    ),
    ("post", "/v1/email/status/{source_id}"): Doc(
        EVENT_ERRORS, media(ref("EmailStatusCallback")), security=SIGNED
    ),
    ("get", "/v1/unsubscribe"): Doc((400, 403), security=TOKEN, page=True),
    ("post", "/v1/unsubscribe"): Doc(
        TOKEN_ERRORS, UNSUBSCRIBE_FORM, body_required=False, security=TOKEN
    ),
    ("get", "/v1/consent/confirm"): Doc((400, 403), security=TOKEN, page=True),
    ("post", "/v1/consent/confirm"): Doc(TOKEN_ERRORS, security=TOKEN),
    ("post", "/v1/sms/inbound"): Doc(
        SMS_ERRORS,
        _form(
            From="E.164 sender",
            To="our number",
            Body="the message",
            MessageSid="id",
            OptOutType="STOP, START or HELP when the provider classified it",
        ),
        body_required=False,  # a signed empty form is answered with an empty TwiML
        security=TWILIO,
        ok=TWIML,
    ),
    ("post", "/v1/sms/status"): Doc(
        (400, *SMS_ERRORS),
        _form(
            MessageSid="id",
            MessageStatus="sent, delivered, undelivered, failed, ...",
            ErrorCode="the provider's error code",
        ),
        body_required=False,  # a status without MessageSid changes nothing: 204
        security=TWILIO_AND_TOKEN,
    ),
    ("get", "/healthz"): Doc(),
    ("get", "/livez"): Doc(),
    ("get", "/readyz"): Doc(
        ok=media({"type": "object", "properties": {"status": {"const": "ready"}}}),
        answers={"503": READYZ_503},
    ),
}


def complete(spec: dict[str, Any], table: Mapping[tuple[str, str], Doc]) -> dict[str, Any]:
    """``spec`` (FastAPI's document) with the table's bodies, errors and credentials."""
    _, generated = models_json_schema([(m, "validation") for m in MODELS], ref_template=REF)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(generated["$defs"])
    schemas.update(ERROR_SCHEMAS)
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            doc = table.get((method, path))
            if doc is not None:
                _apply(operation, doc)
    return spec


def _apply(operation: dict[str, Any], doc: Doc) -> None:
    responses = operation.setdefault("responses", {})
    if doc.body is not None:
        operation["requestBody"] = {"required": doc.body_required, "content": dict(doc.body)}
    if doc.ok is not None:
        success = min(code for code in responses if code.startswith("2"))
        responses[success]["content"] = dict(doc.ok)
    errors = PAGE_ERRORS if doc.page else ERRORS
    responses.pop("422", None)  # FastAPI's own: replaced by ours where the route can answer it
    for code in doc.errors:
        responses[str(code)] = errors[code].response()
    responses.update(doc.answers or {})
    if doc.security:
        operation["security"] = [dict(requirement) for requirement in doc.security]
        credentials = {name for requirement in doc.security for name in requirement}
        in_query = {
            SECURITY_SCHEMES[name]["name"]
            for name in credentials
            if SECURITY_SCHEMES[name].get("in") == "query"
        }
        operation["parameters"] = [  # a credential is a security scheme, not a parameter
            p
            for p in operation.get("parameters", [])
            if not (p["in"] == "query" and p["name"] in in_query)
        ]
        if not operation["parameters"]:
            del operation["parameters"]


def document(app: FastAPI, table: Mapping[tuple[str, str], Doc] = OPERATIONS) -> None:
    """Complete ``app``'s OpenAPI from ``table`` (once, when first asked for) and send the docs
    pages with anti-framing headers."""
    complete_openapi(app, lambda spec: complete(spec, table))
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, method_not_allowed)
    for route in app.router.routes:
        if isinstance(route, Route) and route.path in (app.docs_url, app.redoc_url):
            route.app = deny_framing(route.app)


FRAMING_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


def deny_framing(app: ASGIApp) -> ASGIApp:
    """``app`` with its answers forbidden to be framed by any page (clickjacking)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_denying(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *FRAMING_HEADERS]}
            await send(message)

        await app(scope, receive, send_denying)

    return wrapped
