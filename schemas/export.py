"""JSON Schema and AsyncAPI for the wire contract, committed under ``schemas/``.

``trellis schemas export`` (or ``python -m schemas.export``) rewrites the files; ``--check`` exits
1 if any is stale (the unit tests do the same). ``schemas/json/``: one file per event type (the
envelope with ``type`` fixed and ``properties`` typed) plus ``envelope.json`` (any type,
free-form properties). ``schemas/asyncapi.json``: every topic (see ``schemas.asyncapi``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from schemas.asyncapi import asyncapi_document, property_models
from schemas.events import EngagementEvent
from schemas.vocabulary import KNOWN_TYPES, Properties

JSON_DIR = Path(__file__).parent / "json"
ASYNCAPI_FILE = Path(__file__).parent / "asyncapi.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _dump(schema: dict[str, Any]) -> str:
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def envelope_schema() -> dict[str, Any]:
    schema = EngagementEvent.model_json_schema(mode="validation")
    return {"$schema": DIALECT, "$id": "trellis/envelope.json", **schema}


def event_schema(model: type[Properties]) -> dict[str, Any]:
    event_type = model.model_fields["type"].default
    props = model.model_json_schema(mode="validation")
    defs = {**props.pop("$defs", {})}
    props["properties"].pop("type", None)
    if "required" in props:
        props["required"] = [f for f in props["required"] if f != "type"] or None
        if props["required"] is None:
            del props["required"]
    envelope = envelope_schema()
    envelope["$defs"] = {**envelope.get("$defs", {}), **defs}
    envelope["$id"] = f"trellis/{event_type}.json"
    envelope["title"] = f"{model.__name__}Event"
    envelope["properties"] = {
        **envelope["properties"],
        "type": {"const": event_type, "title": "Type", "type": "string"},
        "properties": props,
    }
    if "properties" not in envelope.get("required", []):
        envelope["required"] = [*envelope.get("required", []), "properties"]
    return envelope


def render() -> dict[str, str]:
    """File name -> contents, for every known event type and the envelope."""
    models = property_models()
    files = {"envelope.json": _dump(envelope_schema())}
    for event_type in KNOWN_TYPES:
        files[f"{event_type}.json"] = _dump(event_schema(models[event_type]))
    return files


def stale(directory: Path = JSON_DIR) -> list[str]:
    """Names of files missing, different or no longer generated."""
    wanted = render()
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    changed = [
        name
        for name, text in wanted.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    return sorted(changed + sorted(present - wanted.keys()))


def write(directory: Path = JSON_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for old in directory.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (directory / name).write_text(text)


def render_asyncapi() -> str:
    return _dump(asyncapi_document())


def stale_asyncapi(path: Path = ASYNCAPI_FILE) -> bool:
    return not path.exists() or path.read_text() != render_asyncapi()


def export(check: bool = False) -> list[str]:
    """Write every generated file (or, with ``check``, write nothing); the stale ones' paths."""
    out = [f"schemas/json/{name}" for name in stale()]
    if stale_asyncapi():
        out.append(f"schemas/{ASYNCAPI_FILE.name}")
    if not check:
        write()
        ASYNCAPI_FILE.write_text(render_asyncapi())
    return out


def main(argv: list[str]) -> int:
    if "--check" in argv:
        out = export(check=True)
        for name in out:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if out else 0
    export()
    print(f"wrote {len(render())} JSON Schemas to {JSON_DIR} and AsyncAPI to {ASYNCAPI_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
