"""Playbook loading, precise validation errors, and `trellis playbook check`."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from console.cli import app
from services.orchestrator.adapters.playbook_file import (
    PlaybookError,
    default_playbook,
    parse_playbook,
)
from services.orchestrator.domain.stages import Stage

DEFAULT = resources.files("services.orchestrator").joinpath("default_playbook.yaml").read_bytes()


def with_change(path: str, value: object) -> bytes:
    """The default playbook with one value replaced, addressed like 'scoring.rules.0.points'."""
    data = yaml.safe_load(DEFAULT)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return yaml.safe_dump(data).encode()


def test_the_default_playbook_implements_the_design_stages() -> None:
    playbook = default_playbook()
    assert [r.stage for r in playbook.stages] == [
        Stage.AWARENESS, Stage.ENGAGED, Stage.MQL, Stage.SQL,
        Stage.RETAINED, Stage.EXPANSION, Stage.ADVOCATE,
    ]  # fmt: skip
    assert {r.stage for r in playbook.explicit} == {
        Stage.SQL, Stage.DISQUALIFIED, Stage.OPPORTUNITY, Stage.ONBOARDING,
        Stage.ENGAGED, Stage.CHURNED,
    }  # fmt: skip
    assert playbook.version == hashlib.sha256(DEFAULT).hexdigest()


def test_the_version_changes_with_the_content() -> None:
    assert parse_playbook(DEFAULT + b"\n# edited\n").version != default_playbook().version


INVALID = [
    (
        "an_unknown_stage_is_named",
        with_change("stages.1.stage", "nurturing"),
        "stages.1.stage: Input should be 'awareness'",
    ),
    (
        "stages_out_of_order_are_refused",
        with_change("stages.1.stage", "sql"),
        "lifecycle order",
    ),
    (
        "a_stage_past_engaged_reachable_by_one_low_intent_action_is_refused",
        with_change("stages.2", {"stage": "mql", "min_score": 10}),
        "stages.mql: a single low-intent action could reach it",
    ),
    (
        "evidence_cannot_enter_a_parked_stage",
        with_change("stages.6", {"stage": "churned", "any_of": ["nps_submitted"]}),
        "stages.6.stage: Value error, churned is entered by explicit events only",
    ),
    (
        "points_above_the_cap_are_refused",
        with_change("scoring.rules.0.points", 50),
        "scoring.rules.0: Value error, points 50.0 exceed the cap 30.0",
    ),
    (
        "a_negative_half_life_is_refused",
        with_change("scoring.half_life_days", -1),
        "scoring.half_life_days: Input should be greater than 0",
    ),
    (
        "duplicate_scoring_rule_names_are_refused",
        with_change("scoring.rules.1.name", "pricing_page"),
        "duplicate scoring rule names: pricing_page",
    ),
    (
        "a_fit_criterion_needs_exactly_one_test",
        with_change("fit.criteria.0", {"name": "x", "trait": "account.x", "weight": 1}),
        "fit.criteria.0: Value error, give either 'in'",
    ),
    (
        "a_fit_trait_must_name_contact_or_account",
        with_change("fit.criteria.0.trait", "industry"),
        "fit.criteria.0.trait: String should match pattern",
    ),
    (
        "a_committee_gate_above_the_number_of_roles_is_refused",
        with_change("accounts.min_roles", {"sql": 9}),
        "min_roles.sql: 9 is not between 0 and the 5 committee roles",
    ),
    (
        "only_parked_stages_recycle",
        with_change("recycle_after_days", {"mql": 10}),
        "recycle_after_days.mql: only churned/disqualified recycle",
    ),
    (
        "unknown_keys_are_typos_not_ignored",
        with_change("scoring.half_lfe_days", 3),
        "scoring.half_lfe_days: Extra inputs are not permitted",
    ),
    ("a_yaml_syntax_error_is_reported", b"stages: [\n", "<yaml>:"),
    ("a_list_is_not_a_playbook", b"- 1\n", "<root>: expected a mapping"),
]


@pytest.mark.parametrize(
    ("content", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_playbook(content: bytes, message: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(content)
    assert any(message in line for line in caught.value.errors), caught.value.errors


def test_playbook_check_prints_stages_thresholds_and_version(tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_bytes(DEFAULT)
    result = CliRunner().invoke(app, ["playbook", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"version {hashlib.sha256(DEFAULT).hexdigest()}" in result.output
    assert "engaged      score>=20; engagements>=2; distinct>=2" in result.output
    assert "onboarding   on deal_closed_won" in result.output


def test_playbook_check_exits_1_with_precise_errors(tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_bytes(with_change("scoring.half_life_days", 0))
    result = CliRunner().invoke(app, ["playbook", "check", str(path)])
    assert result.exit_code == 1
    assert "scoring.half_life_days: Input should be greater than 0" in result.output
    assert "version" not in result.output


def test_playbook_check_refuses_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["playbook", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
