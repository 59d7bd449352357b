"""The operator commands, run the way an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from console.cli import app
from schemas.topics import ALL_TOPICS
from trellis.broker import (
    BrokerError,
    EmbeddedBroker,
    free_port,
    port_in_use,
    wait_for_metadata,
)


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    return clean | extra


def test_trellis_broker_serves_until_ctrl_c_and_leaves_nothing_behind() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "broker", "--port", str(port)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        try:
            asyncio.run(wait_for_metadata(f"127.0.0.1:{port}", deadline_s=30))
        except BrokerError:
            proc.kill()
            out = proc.communicate()[0]
            raise AssertionError(f"broker never answered; its output:\n{out!r}") from None
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    assert b"MEMORY-ONLY" in out
    assert not port_in_use("127.0.0.1", port), "tansu still listening after the CLI stopped"


_PROD = {"TRELLIS_ENV": "prod"}


def test_trellis_migrate_up_and_down_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    env = _env(TRELLIS_DATABASE_URL=f"sqlite:///{db}")
    runner = CliRunner()
    up = runner.invoke(app, ["migrate"], env=env)
    assert up.exit_code == 0, up.output
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"inbox", "contacts", "send_ledger"} <= tables
    bare = runner.invoke(app, ["migrate", "--down"], env=env)  # once: every table dropped
    assert bare.exit_code == 2 and "--revision" in bare.output
    prod = runner.invoke(app, ["migrate", "--down", "--revision", "base"], env=env | _PROD)
    assert prod.exit_code == 2 and "--yes-destroy-data" in prod.output
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "contacts" in tables, "a refused downgrade dropped tables"
    down = runner.invoke(app, ["migrate", "--down", "--revision", "base"], env=env)
    assert down.exit_code == 0, down.output
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "contacts" not in tables


def test_trellis_topics_create_then_list(isolated_broker: EmbeddedBroker) -> None:
    env = _env(
        TRELLIS_KAFKA_BOOTSTRAP=isolated_broker.bootstrap,
        TRELLIS_KAFKA_IDEMPOTENCE="false",
    )
    runner = CliRunner()
    args = ["topics", "create", "--partitions", "2", "--min-insync-replicas", "1"]
    created = runner.invoke(app, args, env=env)
    assert created.exit_code == 0, created.output
    assert created.output.count("created ") == len(ALL_TOPICS)
    again = runner.invoke(app, ["topics", "create"], env=env)
    assert "already exist" in again.output
    listed = runner.invoke(app, ["topics", "list"], env=env)
    lines = dict(line.split("\t") for line in listed.output.strip().splitlines())
    assert {t: lines.get(t) for t in ALL_TOPICS} == {t: "2" for t in ALL_TOPICS}
