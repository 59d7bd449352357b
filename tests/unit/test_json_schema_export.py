"""The committed JSON Schemas (``schemas/json/``) match the pydantic wire models."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas.export import JSON_DIR, render, stale, write
from schemas.vocabulary import KNOWN_TYPES


def test_committed_json_schemas_are_current() -> None:
    assert stale() == [], "run: python -m schemas.export"


def test_every_event_type_and_the_envelope_has_a_schema() -> None:
    assert set(render()) == {"envelope.json", *(f"{t}.json" for t in KNOWN_TYPES)}


def test_a_type_schema_fixes_the_type_and_types_its_properties() -> None:
    schema = orjson.loads((JSON_DIR / "nps_submitted.json").read_text())
    assert schema["properties"]["type"]["const"] == "nps_submitted"
    score = schema["properties"]["properties"]["properties"]["score"]
    assert (score["minimum"], score["maximum"]) == (0, 10)
    assert "type" not in schema["properties"]["properties"]["properties"]


def test_stale_names_missing_changed_and_leftover_files(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "page_viewed.json").write_text("{}")
    (tmp_path / "envelope.json").unlink()
    (tmp_path / "retired_type.json").write_text("{}")
    assert stale(tmp_path) == ["envelope.json", "page_viewed.json", "retired_type.json"]
