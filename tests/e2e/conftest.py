"""The `trellis dev` fixture: a whole stack in a fresh directory, on free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from trellis.broker import free_port


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path, Path]]:
    """(the supervisor, ingest's port, the SQLite file, the log); env.json beside the log."""
    log = tmp_path / "dev.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
        "TRELLIS_EMBEDDED_BROKER_PORT": str(free_port()),
        "TRELLIS_INGEST_PORT": str(port),
        "TRELLIS_DATA_DIR": str(tmp_path / "data"),
        "TRELLIS_TOPIC_PARTITIONS": "2",
        "TRELLIS_DEV_SMTP_PORT": str(free_port()),
        "TRELLIS_DEV_SMS_PORT": str(free_port()),
        "TRELLIS_OPS_PORT": str(free_port()),
        "TRELLIS_NOTIFIER_HTTP_PORT": str(free_port()),
    }
    (tmp_path / "env.json").write_text(json.dumps(env))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "dev"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc, port, tmp_path / "data" / "trellis.db", log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
