"""Loading the nurture plan: YAML in, a validated ``NurtureConfig`` with its content hash out."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.orchestrator.adapters.playbook_file import PlaybookError
from services.orchestrator.domain.nurture_config import NurtureConfig


def parse_nurture(content: bytes) -> NurtureConfig:
    """Parse a ``nurture`` document (or a playbook holding a ``nurture:`` section)."""
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise PlaybookError([f"<yaml>: {exc}"]) from exc
    if isinstance(data, dict) and isinstance(data.get("nurture"), dict):
        data = data["nurture"]
    if not isinstance(data, dict):
        raise PlaybookError(["<root>: expected a mapping"])
    data.pop("version", None)
    try:
        return NurtureConfig.model_validate(
            {**data, "version": hashlib.sha256(content).hexdigest()}
        )
    except ValidationError as exc:
        raise PlaybookError(
            [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        ) from exc


def load_nurture(path: Path) -> NurtureConfig:
    return parse_nurture(path.read_bytes())


def default_nurture() -> NurtureConfig:
    content = resources.files("services.orchestrator").joinpath("default_nurture.yaml")
    return parse_nurture(content.read_bytes())
