"""A very short chaos round (``python -m chaos``), so CI proves the harness itself works: every
service killed once, a database cut, provider faults and poison messages, then the invariants
and a graceful stop of every service.

The same round is the widest log test we have (docs/security.md, boundary 5): every line at
INFO+ that any process of it wrote (ingest, orchestrator and notifier in each incarnation, the
provider sinks, the broker, the harness itself) is scanned for email addresses and phone
numbers, while the world it streams gives every contact both, and database cuts, provider
refusals and poison records drive the error paths.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bench.stack import postgres_reachable
from tests.pii import find_personal_data, lines_at_info_or_above


@pytest.mark.postgres
def test_a_short_chaos_round_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    if not asyncio.run(postgres_reachable()):
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    argv = [sys.executable, "-m", "chaos", "--seconds", "16", "--rate", "40", "--every", "2.5",
            "--outage", "2", "--quiet", "5", "--settle", "40",
            "--workdir", str(tmp_path)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "all invariants hold" in out
    for fault in ("kill -9 orchestrator", "database cut", "kill -9 notifier", "poison messages"):
        assert fault in out, f"{fault!r} was not injected:\n{out[-3000:]}"
    (stops,) = [line for line in out.splitlines() if "graceful stop (SIGTERM)" in line]
    assert "did not stop" not in stops, stops  # every service ends within 10 s of SIGTERM

    logs = {p.name: lines_at_info_or_above(p.read_text(errors="replace"))
            for p in sorted((tmp_path / "logs").glob("*.log"))}  # fmt: skip
    logs["harness"] = lines_at_info_or_above(out)
    for name in ("ingest", "orchestrator", "notifier"):
        assert any(" INFO " in line for line in logs.get(f"{name}-1.log", [])), sorted(logs)
    assert {"orchestrator-2.log", "notifier-2.log"} <= set(logs)  # restarted after kill -9
    leaks = {name: found for name, lines in logs.items() if (found := find_personal_data(lines))}
    assert leaks == {}, "\n".join(f"{n}: {line}" for n, found in leaks.items() for line in found)
