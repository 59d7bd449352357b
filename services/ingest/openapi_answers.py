"""The answers and credentials of ingest's OpenAPI document (``openapi.py`` says which route
gives which): error statuses with the bodies the app's exception handlers write (``app.py``),
their headers, and the security schemes a route can name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REF = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def media(schema: dict[str, Any], kind: str = "application/json") -> dict[str, Any]:
    """A ``content`` entry: ``schema`` under the media type ``kind``."""
    return {kind: {"schema": schema}}


# --- error answers -------------------------------------------------------------------------

HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": {
        "description": "Seconds to wait before retrying: nothing of the request was accepted.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with (on a missing or wrong write key).",
        "schema": {"type": "string"},
    },
}
LOC = {"type": "array", "items": {"type": ["string", "integer"]}}  # where in the request
ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "description": "What was wrong, in words.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "Forbidden": {
        "type": "object",
        "description": "A disabled source (``detail`` only), or an event type this source's kind "
        "may not assert (which, and the kinds that may).",
        "properties": {
            "detail": {"type": "string"},
            "event_type": {"type": ["string", "null"]},
            "allowed_kinds": {"type": "array", "items": {"type": "string"}},
            "source_kind": {"type": "string"},
            "refused": {
                "type": "array",
                "description": "Each refused event: where, its type, the kinds that may.",
                "items": {
                    "type": "object",
                    "properties": {
                        "loc": LOC,
                        "event_type": {"type": "string"},
                        "allowed_kinds": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "required": ["detail"],
    },
    "InvalidRequest": {
        "type": "object",
        "description": "FastAPI's validation shape: every error located in the request "
        '(``["body", "events", 3, "properties", "score"]``); ``known_types`` when an event '
        "type is unknown.",
        "properties": {
            "detail": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "loc": LOC,
                        "msg": {"type": "string"},
                        "type": {"type": "string"},
                    },
                    "required": ["loc", "msg", "type"],
                },
            },
            "known_types": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["detail"],
    },
}
HTML = {"text/html": {"schema": {"type": "string"}}}


@dataclass(frozen=True)
class Error:
    description: str
    schema: str = "Problem"
    headers: tuple[str, ...] = ()
    content: Mapping[str, Any] | None = None  # instead of a JSON ``schema``

    def response(self) -> dict[str, Any]:
        content = self.content if self.content is not None else media(ref(self.schema))
        out: dict[str, Any] = {"description": self.description, "content": dict(content)}
        if self.headers:
            out["headers"] = {name: HEADERS[name] for name in self.headers}
        return out


ERRORS: dict[int, Error] = {
    400: Error("The body is not valid JSON or gzip, or breaks a documented limit."),
    401: Error("Missing or invalid credentials.", headers=("WWW-Authenticate",)),
    403: Error("The source is disabled, or may not assert this event type.", "Forbidden"),
    413: Error("The body (or, gzipped, its decompressed size) or the batch is over the cap."),
    415: Error("Unsupported Content-Encoding (gzip and identity are) or content mode."),
    422: Error("Invalid events or fields; nothing of the request was accepted.", "InvalidRequest"),
    429: Error("Over this source's request rate.", headers=("Retry-After",)),
    503: Error(
        "The broker or the credential store is unavailable (Retry-After), or the route is not "
        "configured; nothing was accepted.",
        headers=("Retry-After",),
    ),
}
# An HTML page answers for the link a person opened (GET): the same statuses, as a page.
PAGE_ERRORS: dict[int, Error] = {
    400: Error("The link has no token, or has expired.", content=HTML),
    403: Error("The link is not valid.", content=HTML),
}

# --- credentials ---------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "writeKey": {
        "type": "http",
        "scheme": "basic",
        "description": "A source's write key as the HTTP Basic username, password empty "
        "(`trellis sources add`). Segment routes also take it as `writeKey` in the body.",
    },
    "webhookSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks: `webhook-id`, `webhook-timestamp` (5 minutes' "
        "tolerance) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of "
        "`id.timestamp.body`, the body as sent) with one of the source's secrets.",
    },
    "twilioSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": "Base64 HMAC-SHA1, keyed by the SMS provider's auth token, of the public "
        "URL followed by every form field as name + value, sorted by name.",
    },
    "callbackToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "A signed, expiring token that Trellis put in the link or callback URL "
        "it sent; it names the contact (and touch). Missing or expired: 400; not valid: 403.",
    },
}
Security = tuple[dict[str, list[str]], ...]  # alternatives, each naming schemes all required
WRITE_KEY: Security = ({"writeKey": []},)
SIGNED: Security = ({"webhookSignature": []},)
TOKEN: Security = ({"callbackToken": []},)
TWILIO: Security = ({"twilioSignature": []},)
TWILIO_AND_TOKEN: Security = ({"twilioSignature": [], "callbackToken": []},)
