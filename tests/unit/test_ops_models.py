"""The ops API's OpenAPI types every answer: a valid OpenAPI 3.1 document, a named response
schema for every route, lists as pages, and models that write the JSON the routes always wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs  # ships with schemathesis (a dev dependency)
import pytest
from fastapi.encoders import jsonable_encoder
from schemathesis.specs.openapi.definitions import OPENAPI_31

from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.ops.kpi_definitions import KPI_DEFINITIONS
from services.orchestrator.ops.kpi_queries import revenue_kpis
from services.orchestrator.ops.models import DecisionPage
from services.orchestrator.ops.report_models import Funnel, SourceView, Timeline
from services.orchestrator.settings import OrchestratorSettings
from trellis.db import create_engine

AT = datetime(2026, 11, 18, 12, 0, 0, 123456, tzinfo=UTC)
LISTS = {"/v1/contacts", "/v1/accounts", "/v1/touches", "/v1/reminders", "/v1/decisions"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    engine = create_engine("sqlite+aiosqlite:///:memory:")  # never connected: only the routes
    return create_ops_app(engine, OrchestratorSettings()).openapi()


def _success(op: dict[str, Any]) -> dict[str, Any]:
    (status,) = [s for s in op["responses"] if s.startswith("2")]
    schema: dict[str, Any] = op["responses"][status]["content"]["application/json"]["schema"]
    return schema


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    errors = [str(e) for e in jsonschema_rs.validator_for(OPENAPI_31).iter_errors(spec)]
    assert spec["openapi"].startswith("3.1") and errors == []


def test_every_route_answers_a_named_schema(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert len(operations) >= 20
    for method, path, op in operations:
        schema = _success(op)
        target = schema["items"] if schema.get("type") == "array" else schema
        assert "$ref" in target, f"{method} {path} answers an untyped body: {schema}"


def test_every_response_schema_is_valid_json_schema(spec: dict[str, Any]) -> None:
    for name, schema in spec["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_lists_answer_pages_with_items_and_next_cursor(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for path in LISTS:
        ref = _success(spec["paths"][path]["get"])["$ref"]
        page = schemas[ref.rsplit("/", 1)[1]]
        assert ref.endswith("Page") and set(page["required"]) == {"items", "next_cursor"}
        assert page["properties"]["items"]["type"] == "array"


def test_open_structures_stay_open_inside_typed_models(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["Decision"]["properties"]["facts"]["type"] == "object"
    assert schemas["Decision"]["properties"]["decided_at"]["format"] == "date-time"
    assert schemas["ContactDetail"]["properties"]["traits"]["additionalProperties"] is True


def _as_before(value: Any) -> Any:
    """What the routes wrote before they had models: FastAPI's encoder on the plain dict."""
    return jsonable_encoder(value)


def test_a_page_is_written_exactly_as_the_plain_dict_was() -> None:
    row = {
        "id": 7, "contact_id": "c1", "account_id": None, "touch_id": "t1",
        "kind": "touch_skipped", "reason": "NO_CONSENT", "facts": {"channel": "email", "n": [1]},
        "event_id": None, "playbook_version": "abc", "decided_at": AT, "new_column": "kept",
    }  # fmt: skip
    plain = {"items": [row], "next_cursor": "WzEsMl0"}
    written = DecisionPage.model_validate(plain).model_dump(mode="json", exclude_unset=True)
    assert written == _as_before(plain)
    assert written["items"][0]["decided_at"] == "2026-11-18T12:00:00.123456+00:00"


def test_funnel_conversions_keep_their_from_key() -> None:
    metrics = {
        "in_stage": {"mql": 2}, "entered": {"mql": 3},
        "conversion": [{"from": "mql", "to": "sql", "entered": 3, "converted": 1, "rate": 0.3333}],
        "median_days_in_stage": {"mql": None}, "p90_days_in_stage": {"mql": None},
        "velocity": {"forward_moves_per_day": 0.5, "median_days_to_reach": {"sql": 4.0}},
    }  # fmt: skip
    revenue = revenue_kpis([], [], AT, AT + timedelta(days=1), 0.75)
    plain = {
        "since": AT, "until": AT, "account_id": None, "contacts": metrics, "accounts": metrics,
        "revenue": revenue, "lift": [], "segments": None, "definitions": KPI_DEFINITIONS,
        "data_quality": {"late_events": 1, "duplicate_events": 0},
    }  # fmt: skip
    written = Funnel.model_validate(plain).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    assert written == _as_before(plain)


def test_keys_a_route_did_not_write_are_not_invented() -> None:
    plain = {"id": "s1", "name": "web", "kind": "sdk", "auth": "write_key", "disabled": False,
             "rate_limit_per_s": None}  # fmt: skip
    assert SourceView.model_validate(plain).model_dump(mode="json", exclude_unset=True) == plain
    timeline = {
        "contact_id": "c1",
        "items": [
            {"at": AT, "type": "event", "kind": "page_viewed", "event_id": "e1",
             "properties": {"path": "/"}},
            {"at": AT, "type": "decision", "kind": "touch_planned", "reason": "SEQUENCE_STEP",
             "touch_id": "t1", "event_id": None, "facts": {}},
        ],
    }  # fmt: skip
    written = Timeline.model_validate(timeline).model_dump(mode="json", exclude_unset=True)
    assert written == _as_before(timeline)


def test_an_answer_that_breaks_its_model_is_refused() -> None:
    with pytest.raises(ValueError, match="decided_at"):
        DecisionPage.model_validate({"items": [{"id": 1, "decided_at": "yesterday"}],
                                     "next_cursor": None})  # fmt: skip
