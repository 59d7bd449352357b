"""Error bodies that say what was wrong: 404 names the missing id, 422 names the field.

404/409 use ``{"detail": {"error": ..., "message": ...}}`` like 401/403; 422 keeps FastAPI's
validation shape (``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``) so clients parse one
format for both the framework's checks and ours.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status


def not_found(what: str, ident: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND,
        {"error": "not_found", "message": f"no {what} with id {ident!r}", what: ident},
    )


def invalid(where: str, field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": [where, field], "msg": message, "type": "value_error"}],
    )


def conflict(message: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, {"error": "conflict", "message": message})


# --- the errors in the OpenAPI document ----------------------------------------------------

_PROBLEM = {
    "type": "object",
    "description": "``error`` names the kind; ``message`` says what to do.",
    "properties": {
        "detail": {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "required_scopes": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["error", "message"],
        }
    },
    "required": ["detail"],
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "OpsProblem": _PROBLEM,
    "OpsUnreadableBody": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "OpsInvalid": {
        "type": "object",
        "description": "FastAPI's validation shape; a source definition the ingest refuses "
        "(its kind with its auth) is said in words.",
        "properties": {
            "detail": {
                "anyOf": [
                    {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
                    {"type": "string"},
                ]
            }
        },
        "required": ["detail"],
    },
    "OpsRefusedGrant": {
        "type": "object",
        "description": "A grant the ledger kept as refused (the recipient opted out), with why "
        "and the consent as it stands.",
        "properties": {
            "error": {"const": "refused"},
            "message": {"type": "string"},
            "refusal": {"type": "string"},
            "consent": {"type": "object"},
        },
        "required": ["error", "message"],
    },
}
_ANSWERS: dict[str, tuple[str, str]] = {
    "400": ("The body could not be read (not UTF-8, not JSON).", "OpsUnreadableBody"),
    "401": ("No key, or an unknown or revoked one (or no link token).", "OpsProblem"),
    "403": ("The key's scope may not do this (or the link is expired or not valid).", "OpsProblem"),
    "404": ("No such contact, account, reminder or source.", "OpsProblem"),
    "409": ("The change conflicts with the current state.", "OpsProblem"),
    "422": ("A parameter or a body field is not valid.", "OpsInvalid"),
    "503": (
        "The database is unavailable (a dropped connection, an outage): retry after "
        "`Retry-After` seconds.",
        "OpsProblem",
    ),
}
CONSENT = ("post", "/v1/contacts/{contact_id}/consent")
CONFLICTS = {("post", "/v1/sources"), ("post", "/v1/reminders/{reminder_id}/{action}"), CONSENT}
OWN_BODIES = {(*CONSENT, "409"): "OpsRefusedGrant"}  # answers not in the shared shapes
NOT_FOUND_BY_QUERY = {("get", "/v1/funnel")}  # an unknown ``account_id``


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """Which errors an operation answers, read from what it declares."""
    parameters = operation.get("parameters", [])
    codes = ["422"] if parameters or "requestBody" in operation else []
    if "security" in operation:  # the key is looked up in the database
        codes += ["401", "403", "503"]
    if any(p["in"] == "path" for p in parameters) or (method, path) in NOT_FOUND_BY_QUERY:
        codes.append("404")
    if "requestBody" in operation:
        codes.append("400")
    if (method, path) in CONFLICTS:
        codes.append("409")
    return codes


REMINDER_LINK = {
    "type": "apiKey",
    "in": "query",
    "name": "token",
    "description": "The signed token of a reminder link (one reminder, one action, until it "
    "expires): instead of an API key.",
}


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every error status each operation can answer, and its body; a reminder
    link's ``token`` is documented as the credential it is."""
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {}).update(_SCHEMAS)
    components.setdefault("securitySchemes", {})["reminderLink"] = REMINDER_LINK
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            _link_token_as_credential(operation)
            responses = operation.setdefault("responses", {})
            for code in error_statuses(method, path, operation):
                description, schema = _ANSWERS[code]
                schema = OWN_BODIES.get((method, path, code), schema)
                ref = {"$ref": f"#/components/schemas/{schema}"}
                responses[code] = {
                    "description": responses.get(code, {}).get("description", description),
                    "content": {"application/json": {"schema": ref}},
                }
    return spec


def _link_token_as_credential(operation: dict[str, Any]) -> None:
    parameters = operation.get("parameters", [])
    if not any(p["in"] == "query" and p["name"] == "token" for p in parameters):
        return
    operation["parameters"] = [p for p in parameters if p["name"] != "token"]
    operation["security"] = [*operation.get("security", []), {"reminderLink": []}]
