"""`trellis simulate` with the nurture plan: touches sent, skipped by reason, reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from console.cli import app
from schemas.events import EngagementEvent
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.simulate import simulate
from trellis.demo_world import build_world

START = datetime(2026, 6, 1, tzinfo=UTC)
PROPERTIES: dict[str, dict[str, Any]] = {
    "page_viewed": {"path": "/blog"},
    "consent_given": {"channel": "email", "method": "form", "form": "newsletter"},
}


def _world(accounts: int, seed: int) -> list[dict[str, Any]]:
    return build_world(accounts, seed=seed, start=START)


def _events(raw: list[dict[str, Any]]) -> list[EngagementEvent]:
    return [EngagementEvent.model_validate(e) for e in raw]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_planned_touch_ends_sent_skipped_or_still_due(seed: int) -> None:
    result = simulate(
        _events(_world(25, seed)), default_playbook(), nurture=default_nurture(),
        horizon=timedelta(days=60), reps=("rep@trellis.example",),
    )  # fmt: skip
    t = result.touches
    assert t is not None and t.planned.total() > 0
    assert t.planned.total() == t.sent.total() + t.skipped.total() + t.pending
    assert t.sent.total() > 0 and t.reminders.total() > 0


def test_without_any_consent_no_email_or_sms_is_sent_and_the_reason_says_so() -> None:
    raw = [e for e in _world(25, 4) if e["type"] != "consent_given"]
    t = simulate(_events(raw), default_playbook(), nurture=default_nurture()).touches
    assert t is not None
    assert not [k for k in t.sent if k.endswith(("/email", "/sms"))]
    # not planned at all (a plan shows only what will be sent), and the reason is counted
    assert t.planned["email"] == 0 and t.planned["sms"] == 0
    assert t.not_planned["NO_CONSENT"] > 0


def test_a_longer_horizon_only_moves_touches_from_still_due_to_decided() -> None:
    events = _events(_world(20, 5))
    short = simulate(events, default_playbook(), nurture=default_nurture()).touches
    long = simulate(
        events, default_playbook(), nurture=default_nurture(), horizon=timedelta(days=90)
    ).touches
    assert short is not None and long is not None
    assert short.planned == long.planned
    assert long.pending <= short.pending
    assert long.sent.total() >= short.sent.total()


def test_dropping_the_awareness_emails_shows_up_in_the_comparison(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in _world(30, 6)))
    text = (resources.files("services.orchestrator") / "default_nurture.yaml").read_text()
    dropped = "\n".join(
        line for line in text.splitlines() if "template: awareness/industry_report" not in line
    )
    proposed = tmp_path / "nurture.yaml"
    proposed.write_text(dropped)
    result = CliRunner().invoke(
        app,
        ["simulate", "--events", str(history), "--nurture", str(proposed), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout[result.stdout.index("{") :])
    cur, new = report["current"]["touches"], report["proposed"]["touches"]
    assert new["planned"]["email"] < cur["planned"]["email"]
    assert report["current"]["contact_stages"] == report["proposed"]["contact_stages"]


def test_simulate_needs_exactly_one_source_of_history(tmp_path: Path) -> None:
    neither = CliRunner().invoke(app, ["simulate"])
    assert neither.exit_code == 2 and "--events FILE or --from-topic" in neither.output
    path = tmp_path / "h.jsonl"
    path.write_text("")
    both = CliRunner().invoke(app, ["simulate", "--events", str(path), "--from-topic"])
    assert both.exit_code == 2


def test_a_demo_request_ends_the_education_sequence_in_the_simulation_as_live() -> None:
    def event(n: int, kind: str, minutes: int) -> dict[str, Any]:
        return {
            "id": f"e{n}", "type": kind, "source": "test",
            "time": (START + timedelta(days=2, hours=12, minutes=minutes)).isoformat(),
            "contact": {"external_id": "ana", "email": "ana@acme.example"},
            "account": {"external_id": "acme", "domain": "acme.example"},
            "properties": PROPERTIES.get(kind, {}),
        }  # fmt: skip

    opted_in = event(0, "consent_given", -10)
    quiet = simulate(_events([opted_in, event(1, "page_viewed", 0)]), default_playbook(),
                     nurture=default_nurture()).touches  # fmt: skip
    asked = simulate(_events([opted_in, event(1, "page_viewed", 0),
                              event(2, "demo_requested", 120)]),
                     default_playbook(), nurture=default_nurture()).touches  # fmt: skip
    assert quiet is not None and asked is not None
    ended = ("SEQUENCE_EXITED", "STAGE_EXITED")  # the demo request moves Ana on, too
    assert sum(quiet.skipped[r] for r in ended) == 0
    assert sum(asked.skipped[r] for r in ended) >= 1
    assert asked.sent["awareness/email"] < quiet.sent["awareness/email"] + quiet.pending
    assert asked.planned.total() == asked.sent.total() + asked.skipped.total() + asked.pending


def test_per_touch_output_lists_what_would_be_sent_when_and_every_no_with_its_reason(
    tmp_path: Path,
) -> None:
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in _world(8, 7)))
    result = CliRunner().invoke(
        app, ["simulate", "--events", str(history), "--per", "touch", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout[result.stdout.index("[") :])
    assert {r["plan"] for r in rows} == {"current", "proposed"}
    statuses = {r["status"] for r in rows}
    assert {"sent", "not_planned"} <= statuses
    assert all(r["reason"] for r in rows if r["status"] in ("skipped", "not_planned"))
    assert all(r["reason"] is None for r in rows if r["status"] == "sent")
    sent = [r for r in rows if r["status"] == "sent"]
    assert all(r["touch_id"] and r["at"] and r["channel"] and r["template"] for r in sent)
    per_contact = CliRunner().invoke(
        app, ["simulate", "--events", str(history), "--per", "contact", "--format", "csv"]
    )
    assert per_contact.exit_code == 0, per_contact.output
    lines = per_contact.stdout.strip().splitlines()
    header = lines[lines.index(next(x for x in lines if x.startswith("plan,")))].split(",")
    assert header[:3] == ["plan", "contact", "sent"]
    contacts = {r["contact"] for r in rows if r["plan"] == "current"}
    assert sum(1 for x in lines if x.startswith("current,")) == len(contacts)


def test_per_touch_needs_a_machine_format() -> None:
    result = CliRunner().invoke(app, ["simulate", "--from-topic", "--per", "touch"])
    assert result.exit_code == 2
