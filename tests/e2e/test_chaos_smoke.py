"""A very short chaos round (``python -m chaos``), so CI proves the harness itself works: every
service killed once, a database cut, provider faults and poison messages, then the invariants
and a graceful stop of every service."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bench.stack import postgres_reachable


@pytest.mark.postgres
def test_a_short_chaos_round_loses_nothing_and_sends_nothing_twice() -> None:
    if not asyncio.run(postgres_reachable()):
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    argv = [sys.executable, "-m", "chaos", "--seconds", "16", "--rate", "40", "--every", "2.5",
            "--outage", "2", "--quiet", "5", "--settle", "40"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "all invariants hold" in out
    for fault in ("kill -9 orchestrator", "database cut", "kill -9 notifier", "poison messages"):
        assert fault in out, f"{fault!r} was not injected:\n{out[-3000:]}"
    (stops,) = [line for line in out.splitlines() if "graceful stop (SIGTERM)" in line]
    assert "did not stop" not in stops, stops  # every service ends within 10 s of SIGTERM
