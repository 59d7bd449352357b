"""The nurture plan's teams, stage owners and handoff SLAs: compatible with ``reps:`` alone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.domain.handoffs import DEFAULT_STAGE_TEAMS, HandoffKind
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.stages import Stage

WINDOWS = {
    "windows": {"w": {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}},
    "channel_windows": {c: "w" for c in
                        ("email", "sms", "rep_call_reminder", "rep_email_reminder")},
}  # fmt: skip


def test_team_members_join_the_rep_directory_with_their_zone_and_channel() -> None:
    config = NurtureConfig.model_validate({**WINDOWS, "teams": {"success": {
        "lead": "Lee@co.example",
        "members": {"lee@co.example": {"timezone": "Europe/Berlin", "capacity": 0},
                    "Cara@co.example": {"timezone": "America/Chicago", "channel": "slack"}},
    }}})  # fmt: skip
    assert config.rep_zone("cara@co.example") == ZoneInfo("America/Chicago")
    assert config.rep_channel("cara@co.example") == "slack"
    assert config.team("success").lead == "lee@co.example"
    assert list(config.team("success").members) == ["lee@co.example", "cara@co.example"]
    assert config.team("marketing").members == {}


def test_without_a_sales_team_the_reps_directory_is_the_sales_team() -> None:
    config = NurtureConfig.model_validate(
        {**WINDOWS, "reps": {"dana@co.example": {"timezone": "Europe/London"}}}
    )
    assert list(config.team("sales").members) == ["dana@co.example"]
    assert config.team("sales").lead is None


def test_stage_owners_and_slas_default_and_a_given_sla_overrides_only_its_kind() -> None:
    config = NurtureConfig.model_validate(
        {**WINDOWS, "handoffs": {"sql_first_contact": {"business_hours": 2}}}
    )
    assert config.stage_teams == DEFAULT_STAGE_TEAMS
    assert config.handoffs[HandoffKind.SQL_FIRST_CONTACT].business_hours == 2
    assert config.handoffs[HandoffKind.CSM_KICKOFF].business_days == 2
    assert config.handoffs[HandoffKind.MQL_ACCEPT].business_days == 1


def test_the_default_plan_names_the_default_owners_and_has_no_teams() -> None:
    config = default_nurture()
    assert config.stage_teams[Stage.ONBOARDING] == "success"
    assert config.teams == {}  # no teams: no handoffs (the sample in the file is commented)


def test_a_lead_outside_the_team_is_refused() -> None:
    with pytest.raises(ValidationError, match="not one of the team"):
        NurtureConfig.model_validate(
            {**WINDOWS, "teams": {"sales": {"lead": "x@co.example", "members": {}}}}
        )
