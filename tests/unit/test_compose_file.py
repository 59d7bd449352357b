"""No Docker engine runs here, so the compose file is checked against the package instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from trellis.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _command_exists(argv: list[str]) -> bool:
    assert argv[0] == "trellis", argv
    group: Any = typer.main.get_command(app)
    for word in argv[1:]:
        if word.startswith("-"):
            break
        if not hasattr(group, "commands"):
            return True  # remaining words are arguments of a leaf command
        sub = group.commands.get(word)
        if sub is None:
            return False
        group = sub
    return not hasattr(group, "commands")


def test_every_trellis_service_runs_a_command_the_package_has(compose: dict[str, Any]) -> None:
    commands = {
        name: svc["command"]
        for name, svc in compose["services"].items()
        if svc.get("image") == "trellis:local"
    }
    assert set(commands) >= {"migrate", "topics", "ingest", "orchestrator", "notifier"}
    missing = {name: argv for name, argv in commands.items() if not _command_exists(argv)}
    assert missing == {}


def test_services_wait_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("kafka", "postgres"):
        assert "healthcheck" in services[name]
    for name in ("ingest", "orchestrator", "notifier"):
        deps = services[name]["depends_on"]
        assert deps["kafka"]["condition"] == "service_healthy"
        assert deps["migrate"]["condition"] == "service_completed_successfully"


def test_production_runs_two_orchestrators_on_kafka_with_idempotence(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert services["orchestrator"]["deploy"]["replicas"] == 2
    assert services["kafka"]["image"].startswith("apache/kafka")
    env = services["orchestrator"]["environment"]
    assert env["TRELLIS_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["TRELLIS_KAFKA_IDEMPOTENCE"] == "true"
    assert env["TRELLIS_DATABASE_URL"].startswith("postgresql+asyncpg://")


def test_a_misspelt_command_is_detected() -> None:
    assert not _command_exists(["trellis", "orchestrater"])
    assert _command_exists(["trellis", "topics", "create", "--replication-factor", "1"])


def test_production_sets_every_secret_prod_refuses_to_default(compose: dict[str, Any]) -> None:
    from services.notifier.settings import NotifierSettings
    from services.orchestrator.settings import OrchestratorSettings

    env = compose["services"]["orchestrator"]["environment"]
    assert env["TRELLIS_ENV"] == "prod"
    for name in ("TRELLIS_UNSUBSCRIBE_SECRET", "TRELLIS_OPS_LINK_SECRET"):
        assert env[name].startswith("${" + name + ":?"), f"{name} must be required, not defaulted"
    values = {k.removeprefix("TRELLIS_").lower(): v for k, v in env.items()}
    values |= {"unsubscribe_secret": "s1", "ops_link_secret": "s2"}  # what the operator exports
    OrchestratorSettings(**values)
    NotifierSettings(**values)
    for settings in (OrchestratorSettings, NotifierSettings):  # without them, start-up stops
        with pytest.raises(ValueError, match="must be set in prod"):
            settings(**{k: v for k, v in values.items() if not k.endswith("secret")})
    assert env["TRELLIS_OPS_HOST"] == "0.0.0.0"
