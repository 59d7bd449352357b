"""A rep out of the box: the plan and rep settings ``trellis dev`` starts the orchestrator with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from console.dev_plan import DEV_REP, configure_dev_rep, write_dev_plan
from services.orchestrator.adapters.nurture_file import default_nurture, load_nurture
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.settings import OrchestratorSettings
from trellis.demo_world import DEMO_REPS, build_world, owner_of

SATURDAY_3AM = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def test_the_dev_plan_is_the_shipped_plan_with_a_rep_directory(tmp_path: Path) -> None:
    plan, shipped = load_nurture(write_dev_plan(tmp_path)), default_nurture()
    steps = [(q.id, q.stage, q.steps) for q in plan.sequences]  # holdouts differ: demo lift
    assert steps == [(q.id, q.stage, q.steps) for q in shipped.sequences]
    assert plan.caps == shipped.caps
    assert plan.rep_channel(DEV_REP) == "email"
    zones = {rep.email: plan.rep_zone(rep.email) for rep in DEMO_REPS}
    assert zones == {
        "sam@trellis.example": ZoneInfo("America/Los_Angeles"),
        "priya@trellis.example": ZoneInfo("Asia/Kolkata"),
    }


def test_in_dev_a_call_now_reminder_goes_at_any_hour_and_email_reminders_wait(
    tmp_path: Path,
) -> None:
    plan = load_nurture(write_dev_plan(tmp_path))
    utc = ZoneInfo("UTC")
    assert plan.window_for(TouchChannel.REP_CALL_REMINDER).contains(SATURDAY_3AM, utc)
    assert not plan.window_for(TouchChannel.REP_EMAIL_REMINDER).contains(SATURDAY_3AM, utc)
    shipped = default_nurture()
    assert not shipped.window_for(TouchChannel.REP_CALL_REMINDER).contains(SATURDAY_3AM, utc)


def test_the_orchestrator_reads_the_dev_rep_and_plan_from_the_environment(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    said = configure_dev_rep(env, tmp_path)
    assert len(said) == 2
    settings = OrchestratorSettings.model_validate(
        {"rep_domains": env["TRELLIS_REP_DOMAINS"], "nurture": env["TRELLIS_NURTURE"],
         "orchestrator_rep_pool": env["TRELLIS_ORCHESTRATOR_REP_POOL"]}
    )  # fmt: skip
    assert settings.rep_pool == (DEV_REP,)
    assert settings.load_nurture().rep_channel(DEV_REP) == "email"


def test_what_the_developer_set_is_left_alone(tmp_path: Path) -> None:
    env = {"TRELLIS_NURTURE": "/mine.yaml", "TRELLIS_ORCHESTRATOR_REP_POOL": "me@x.example"}
    assert configure_dev_rep(env, tmp_path) == []
    assert env["TRELLIS_NURTURE"] == "/mine.yaml"
    assert env["TRELLIS_ORCHESTRATOR_REP_POOL"] == "me@x.example"
    assert not (tmp_path / "dev-nurture.yaml").exists()


def test_the_demo_worlds_accounts_are_owned_by_reps_in_two_time_zones() -> None:
    world = build_world(40, seed=1, start=datetime(2026, 6, 1, tzinfo=UTC))
    owners = {
        (e["properties"]["owner_email"], e["account"]["traits"]["region"])
        for e in world
        if e["type"] == "crm_owner_changed"
    }
    assert {email for email, _ in owners} == {rep.email for rep in DEMO_REPS}
    assert all(owner_of(region).email == email for email, region in owners)
    assert len({rep.timezone for rep in DEMO_REPS}) == 2
