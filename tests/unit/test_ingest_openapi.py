"""Ingest's OpenAPI document is complete (every route in ``openapi.OPERATIONS``, no dangling
reference) and its docs pages may not be framed. Schemathesis checks the answers against it:
tests/security/test_schemathesis.py."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from services.ingest.app import create_app
from services.ingest.openapi import EVENT_ERRORS, OPERATIONS
from services.ingest.settings import IngestSettings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(IngestSettings()).openapi()


def _operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, ops in spec["paths"].items() for method in ops}


def test_every_route_has_a_row_in_the_table_and_every_row_a_route(spec: dict[str, Any]) -> None:
    assert _operations(spec) == set(OPERATIONS)


def test_every_reference_is_defined(spec: dict[str, Any]) -> None:
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert referenced <= set(spec["components"]["schemas"])


def test_every_operation_that_takes_credentials_names_a_defined_scheme(
    spec: dict[str, Any],
) -> None:
    schemes = set(spec["components"]["securitySchemes"])
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            named = {name for requirement in op.get("security", []) for name in requirement}
            assert named <= schemes, (method, path)
            if path.startswith("/v1/"):
                assert named, f"{method} {path} documents no credential"


@pytest.mark.parametrize(
    ("method", "path"), sorted(key for key, doc in OPERATIONS.items() if doc.errors == EVENT_ERRORS)
)
def test_event_routes_document_every_error_with_its_body(
    spec: dict[str, Any], method: str, path: str
) -> None:
    op = spec["paths"][path][method]
    assert op["requestBody"]["content"]
    responses = op["responses"]
    assert {str(code) for code in EVENT_ERRORS} <= set(responses)
    forbidden = responses["403"]["content"]["application/json"]["schema"]
    assert forbidden == {"$ref": "#/components/schemas/Forbidden"}
    for code in ("429", "503"):
        assert "Retry-After" in responses[code]["headers"]


def test_a_link_token_is_a_credential_not_a_parameter(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/v1/unsubscribe"]["post"]
    assert op["security"] == [{"callbackToken": []}]
    assert "token" not in {p["name"] for p in op.get("parameters", [])}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_may_not_be_framed(page: str) -> None:
    app = create_app(IngestSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        answer = await http.get(page)
    assert answer.status_code == 200
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"] == "frame-ancestors 'none'"


async def test_405_allows_every_method_of_the_path() -> None:
    app = create_app(IngestSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        answer = await http.put("/v1/unsubscribe")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
