"""Loading playbook files: YAML in, a validated ``Playbook`` with its content hash out."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.orchestrator.domain.playbook import Playbook


class PlaybookError(ValueError):
    """A playbook that does not load; ``errors`` are precise 'path: message' lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_playbook(content: bytes) -> Playbook:
    version = hashlib.sha256(content).hexdigest()
    try:
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise PlaybookError([f"<yaml>: {exc}"]) from exc
    if not isinstance(data, dict):
        raise PlaybookError(["<root>: expected a mapping"])
    data.pop("version", None)
    try:
        return Playbook.model_validate({**data, "version": version})
    except ValidationError as exc:
        raise PlaybookError(
            [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()]
        ) from exc


def load_playbook(path: Path) -> Playbook:
    return parse_playbook(path.read_bytes())


def default_playbook() -> Playbook:
    content = resources.files("services.orchestrator").joinpath("default_playbook.yaml")
    return parse_playbook(content.read_bytes())
