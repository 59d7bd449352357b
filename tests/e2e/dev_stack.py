"""`trellis dev` for tests: the ``dev_stack`` fixture (a whole stack in a fresh directory, on free
ports) and helpers to read its log, processes and ports. Import the fixture by name."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from trellis.broker import free_port

DEADLINE_S = 60
READY = re.compile(r"^\s*dev \| ready in ([\d.]+)s", re.M)


def wait_for(
    check: Callable[[], object], what: str, log: Path, deadline_s: float = DEADLINE_S
) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen in {deadline_s}s; dev log:\n{log.read_text()[-4000:]}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def started_pids(log: Path, name: str = r"[\w-]+") -> list[int]:
    return [int(p) for p in re.findall(rf"started {name} \(pid (\d+)\)", log.read_text())]


def stack_env(log: Path) -> dict[str, str]:
    """The environment the stack was started with (its ports), kept beside its log."""
    env: dict[str, str] = json.loads((log.parent / "env.json").read_text())
    return env


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
