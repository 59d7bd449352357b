"""Start-up refusals as an operator sees them: the real command, one line per reason, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from tests.unit.test_prod_refusals import GOOD
from trellis.broker import free_port
from trellis.settings import TrellisSettings
from trellis.startup import EXIT_REFUSED, migration_problem


def _run(service: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", service],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unsafe_prod_settings_are_json_lines_without_a_traceback() -> None:
    env = GOOD | {
        "TRELLIS_LOG_JSON": "true",
        "TRELLIS_KAFKA_BOOTSTRAP": "embedded",
        "TRELLIS_DATABASE_URL": "sqlite:///ignored.db",
        "TRELLIS_SMS_AUTH_TOKEN": "short",
    }
    done = _run("ingest", **env)
    assert done.returncode == EXIT_REFUSED, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert [line["level"] for line in lines] == ["ERROR"] * 3
    assert [line["msg"].split(":")[1].split()[0] for line in lines] == [
        "TRELLIS_KAFKA_BOOTSTRAP",
        "TRELLIS_DATABASE_URL",
        "TRELLIS_SMS_AUTH_TOKEN",
    ]


def test_a_setting_refused_while_parsing_is_one_plain_line_too() -> None:
    env = GOOD | {"TRELLIS_OPS_LINK_SECRET": "dev-ops-link-secret-change-me"}
    done = _run("orchestrator", **env)
    assert done.returncode == EXIT_REFUSED
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert "refusing to start" in line and "TRELLIS_OPS_LINK_SECRET must be set in prod" in line


POSTGRESQL = pytest.mark.parametrize("blank_database_url", ["postgresql"], indirect=True)


@POSTGRESQL
def test_an_unmigrated_database_stops_the_service_in_prod(blank_database_url: str) -> None:
    done = _run("notifier", **GOOD | {"TRELLIS_DATABASE_URL": blank_database_url})
    assert done.returncode == EXIT_REFUSED, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    line = lines[0]
    assert "database is not migrated" in line and "trellis migrate" in line


@POSTGRESQL  # SQLite is refused in prod before its schema matters
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_migration_check_knows_migrated_unmigrated_and_unreachable(
    database_url: str, blank_database_url: str
) -> None:
    assert await migration_problem(TrellisSettings(database_url=database_url)) is None
    missing = await migration_problem(TrellisSettings(database_url=blank_database_url))
    assert missing is not None and "not migrated" in missing
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"
    unreachable = await migration_problem(TrellisSettings(database_url=nowhere))
    assert unreachable is not None and unreachable.startswith("database unreachable")
