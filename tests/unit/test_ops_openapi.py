"""The ops API's OpenAPI names every error an operation answers, with its body, and every
credential; Schemathesis checks the answers against it (tests/security/test_schemathesis.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.settings import OrchestratorSettings
from trellis.db import create_engine


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    engine = create_engine("sqlite+aiosqlite:///:memory:")  # never connected: only the routes
    return create_ops_app(engine, OrchestratorSettings()).openapi()


def test_every_reference_is_defined(spec: dict[str, Any]) -> None:
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert referenced <= set(spec["components"]["schemas"])


def test_every_keyed_operation_documents_401_403_and_503(spec: dict[str, Any]) -> None:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1/"):
                assert op.get("security"), f"{method} {path} documents no credential"
                assert {"401", "403", "503"} <= set(op["responses"]), (method, path)


def test_a_reminder_link_token_is_a_credential(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/v1/reminders/{reminder_id}/{action}"]["get"]
    assert op["security"] == [{"reminderLink": []}]
    assert "token" not in {p["name"] for p in op["parameters"]}


def test_a_refused_grant_documents_its_own_body(spec: dict[str, Any]) -> None:
    answer = spec["paths"]["/v1/contacts/{contact_id}/consent"]["post"]["responses"]["409"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/OpsRefusedGrant"}
