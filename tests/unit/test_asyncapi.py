"""The committed AsyncAPI document (``schemas/asyncapi.json``): current, valid against the official
AsyncAPI 3.0.0 JSON Schema (vendored, see ``tests/vendor/README.md``), complete, and describing
what the services really put on the topics."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs  # ships with schemathesis (a dev dependency)
import orjson
import pytest
from pydantic import Field

from schemas import asyncapi
from schemas.commands import Channel, DispatchTouch
from schemas.dead_letter import (
    DLQ_HEADER_CONSUMER,
    DLQ_HEADER_ERROR,
    DLQ_HEADER_OFFSET,
    DLQ_HEADER_PARTITION,
    DLQ_HEADER_TOPIC,
)
from schemas.events import EngagementEvent
from schemas.export import ASYNCAPI_FILE, render_asyncapi, stale_asyncapi
from schemas.outcomes import OutcomeStatus, TouchOutcome
from schemas.topics import ALL_TOPICS, ENGAGEMENT, MAIN_TOPICS
from schemas.vocabulary import KNOWN_TYPES

OFFICIAL = Path(__file__).parents[1] / "vendor" / "asyncapi-3.0.0.schema.json"
OFFICIAL_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"
AT = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def official() -> jsonschema_rs.Validator:
    raw = OFFICIAL.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == OFFICIAL_SHA256, "the vendored schema was edited"
    return jsonschema_rs.validator_for(orjson.loads(raw))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(ASYNCAPI_FILE.read_bytes())
    return loaded


def test_committed_document_is_current() -> None:
    assert not stale_asyncapi(), "run: trellis schemas export"


def test_a_changed_model_makes_the_committed_document_stale(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Widened(DispatchTouch):
        priority: int = Field(default=0, description="a field added without regenerating")

    Widened.__name__ = "DispatchTouch"
    monkeypatch.setattr(asyncapi, "DispatchTouch", Widened)
    assert stale_asyncapi()
    assert "priority" in render_asyncapi()


def test_document_is_valid_asyncapi_3(
    official: jsonschema_rs.Validator, document: dict[str, Any]
) -> None:
    errors = [f"{e.instance_path}: {e}" for e in official.iter_errors(document)]
    assert errors == []


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("asyncapi",), "2.6.0"),
        (("operations", "ingest.publish-engagement", "action"), "publish"),
        (("channels", "touches", "bindings", "kafka", "partitions"), "six"),
        (("components", "schemas", "DispatchTouch", "type"), "objekt"),
    ],
)
def test_the_official_schema_refuses_a_broken_document(
    official: jsonschema_rs.Validator, document: dict[str, Any], where: tuple[str, ...], value: Any
) -> None:
    broken = copy.deepcopy(document)
    node = broken
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert not official.is_valid(broken)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_points_at_something(document: dict[str, Any]) -> None:
    for ref in set(_refs(document)):
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, f"dangling {ref}"
            node = node[part]


def test_every_topic_and_its_dead_letter_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(ALL_TOPICS)


def test_every_event_type_is_a_message_on_the_engagement_channel(document: dict[str, Any]) -> None:
    (engagement,) = [c for c in document["channels"].values() if c["address"] == ENGAGEMENT]
    assert set(engagement["messages"]) == {f"event.{t}" for t in KNOWN_TYPES}


def test_dead_letter_messages_require_the_headers_the_consumer_writes(
    document: dict[str, Any],
) -> None:
    written = {
        DLQ_HEADER_ERROR, DLQ_HEADER_TOPIC, DLQ_HEADER_PARTITION, DLQ_HEADER_OFFSET,
        DLQ_HEADER_CONSUMER,
    }  # fmt: skip
    messages = document["components"]["messages"]
    letters = [m for name, m in messages.items() if name.startswith("deadLetter.")]
    assert len(letters) == len(MAIN_TOPICS)
    for message in letters:
        assert set(message["headers"]["required"]) == written
        assert message["headers"]["additionalProperties"] is True  # the original's are kept


def _payload_validator(document: dict[str, Any], message: str) -> jsonschema_rs.Validator:
    """The message's payload schema, with ``components`` in reach of its references."""
    schema = {
        "$ref": f"#/components/messages/{message}/payload",
        "components": document["components"],
    }
    return jsonschema_rs.validator_for(schema)


def _wire(model: EngagementEvent | DispatchTouch | TouchOutcome) -> Any:
    return orjson.loads(model.model_dump_json(exclude_none=True))


def test_what_the_services_publish_matches_the_message_payloads(document: dict[str, Any]) -> None:
    event = EngagementEvent.model_validate(
        {"id": "e1", "type": "nps_submitted", "source": "test", "time": AT,
         "contact": {"email": "ana@acme.example", "traits": {"role": "finance"}},
         "properties": {"score": 9}}
    )  # fmt: skip
    touch = DispatchTouch(
        touch_id="t1", contact_id="c1", channel=Channel.EMAIL, template_id="awareness/intro",
        stage="awareness", to="ana@acme.example", decided_at=AT,
    )  # fmt: skip
    outcome = TouchOutcome(
        id="o1", touch_id="t1", contact_id="c1", channel=Channel.EMAIL,
        status=OutcomeStatus.DELIVERED, occurred_at=AT,
    )  # fmt: skip
    nps = _payload_validator(document, "event.nps_submitted")
    assert nps.is_valid(_wire(event))
    assert not nps.is_valid({**_wire(event), "properties": {"score": 11}})
    assert not _payload_validator(document, "event.page_viewed").is_valid(_wire(event))
    assert _payload_validator(document, "DispatchTouch").is_valid(_wire(touch))
    assert _payload_validator(document, "TouchOutcome").is_valid(_wire(outcome))
    assert not _payload_validator(document, "TouchOutcome").is_valid(
        {**_wire(outcome), "status": "teleported"}
    )


def test_trellis_schemas_export_check_fails_on_a_stale_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from console.cli import app

    runner = CliRunner()
    current = runner.invoke(app, ["schemas", "export", "--check"])
    assert current.exit_code == 0, current.output

    class Widened(DispatchTouch):
        priority: int = 0

    Widened.__name__ = "DispatchTouch"
    monkeypatch.setattr(asyncapi, "DispatchTouch", Widened)
    stale = runner.invoke(app, ["schemas", "export", "--check"])
    assert stale.exit_code == 1
    assert "stale: schemas/asyncapi.json" in stale.output
