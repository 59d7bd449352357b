"""`trellis simulate`: compare playbooks on history from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import orjson
from typer.testing import CliRunner

from console.cli import app
from trellis.demo_world import build_world


def _history(tmp_path: Path, accounts: int = 40) -> Path:
    path = tmp_path / "history.jsonl"
    world = build_world(accounts, seed=9, start=datetime(2026, 6, 1, tzinfo=UTC))
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in world))
    return path


def test_a_stricter_engaged_threshold_shows_fewer_engaged_transitions(tmp_path: Path) -> None:
    stricter = tmp_path / "stricter.yaml"
    text = (resources.files("services.orchestrator") / "default_playbook.yaml").read_text()
    assert "    min_score: 20\n" in text
    stricter.write_text(text.replace("    min_score: 20\n", "    min_score: 60\n", 1))
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--events",
            str(_history(tmp_path)),
            "--playbook",
            str(stricter),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout[result.stdout.index("{") :])
    key = "contact:engaged:evidence"
    assert report["current"]["transitions"][key] > report["proposed"]["transitions"].get(key, 0)
    assert report["current"]["playbook_version"] != report["proposed"]["playbook_version"]
    assert report["current"]["events"] == report["proposed"]["events"] > 0


def test_the_same_playbook_changes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--events", str(_history(tmp_path, 10)), "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.stdout.splitlines() if line.count(",") == 3]
    assert rows[0] == ["measure", "current", "proposed", "change"]
    assert all(r[1] == r[2] and r[3] == "" for r in rows[1:])


def test_invalid_history_lines_are_named_and_refused(tmp_path: Path) -> None:
    path = _history(tmp_path, 3)
    path.write_bytes(path.read_bytes() + b'{"id": "x"}\nnot json\n')
    result = CliRunner().invoke(app, ["simulate", "--events", str(path)])
    assert result.exit_code == 2
    assert "2 invalid line(s)" in result.output and "line " in result.output
