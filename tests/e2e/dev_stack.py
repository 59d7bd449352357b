"""Helpers for driving a `trellis dev` run from a test: its log, its processes, its ports."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

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
