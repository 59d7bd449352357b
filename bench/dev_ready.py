"""``trellis dev``'s "ready": how soon an event posted then shows in the ops API.

Each run starts ``trellis dev`` in a fresh directory on free ports and posts two events:
- baseline: as soon as ingest's ``/readyz`` answers 200 (the "ready" a developer had before the
  consumers' readiness: the orchestrator may not have joined its group yet);
- ready: as soon as ``trellis dev`` prints ``ready`` (every ``/readyz`` is 200: the consumers
  joined their groups and own partitions).
The second is a demo request: its call reminder to the dev rep is also timed into the outbox.
Prints medians over the runs and the ratio ready / baseline; writes bench/results/dev_ready.json.
Target (issue 16.5): the first event after "ready" visible in the ops API in < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.orchestrator.domain.identity import stable_id
from trellis.broker import free_port

RESULTS = Path(__file__).parent / "results"
READY = re.compile(r"^\s*dev \| ready in ([\d.]+)s", re.M)
POLL_S = 0.01
DEADLINE_S = 120.0


def _until(check: Callable[[], bool], what: str) -> float:
    """Poll ``check`` every 10 ms; the monotonic time it first held."""
    return _all_until({what: check})[what]


def _all_until(checks: dict[str, Callable[[], bool]]) -> dict[str, float]:
    """Poll every check in turn (none waits for another); when each first held."""
    seen: dict[str, float] = {}
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        for what, check in checks.items():
            if what not in seen and check():
                seen[what] = time.monotonic()
        if len(seen) == len(checks):
            return seen
        time.sleep(POLL_S)
    raise RuntimeError(f"{sorted(set(checks) - set(seen))} not seen in {DEADLINE_S}s")


def _answers(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post(ingest: str, key: str, event_type: str, email: str) -> float:
    event = {
        "id": f"bench-{uuid.uuid4().hex}", "type": event_type, "source": "bench",
        "time": datetime.now(UTC).isoformat(), "contact": {"email": email},
        "account": {"domain": email.split("@")[1]},
        "properties": {"path": "/pricing"} if event_type == "page_viewed" else {},
    }  # fmt: skip
    reply = httpx.post(f"{ingest}/v1/events", json=event, auth=(key, ""), timeout=10)
    reply.raise_for_status()
    return time.monotonic()


def one_run(workdir: Path) -> dict[str, float]:
    ports = {name: free_port() for name in ("ingest", "ops", "notifier", "broker", "smtp", "sms")}
    data = workdir / ".trellis"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
        "TRELLIS_DATA_DIR": str(data), "TRELLIS_TOPIC_PARTITIONS": "2",
        "TRELLIS_EMBEDDED_BROKER_PORT": str(ports["broker"]),
        "TRELLIS_INGEST_PORT": str(ports["ingest"]), "TRELLIS_OPS_PORT": str(ports["ops"]),
        "TRELLIS_NOTIFIER_HTTP_PORT": str(ports["notifier"]),
        "TRELLIS_DEV_SMTP_PORT": str(ports["smtp"]), "TRELLIS_DEV_SMS_PORT": str(ports["sms"]),
    }  # fmt: skip
    ingest, ops = f"http://127.0.0.1:{ports['ingest']}", f"http://127.0.0.1:{ports['ops']}"
    log = workdir / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "dev"], cwd=workdir, env=env,
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        launched = time.monotonic()
        _until(lambda: _answers(f"{ingest}/readyz"), "ingest ready")
        key = (data / "dev-write-key").read_text().strip()
        early = f"early-{uuid.uuid4().hex[:8]}@acme.example"
        early_at = _post(ingest, key, "page_viewed", early)
        ready_at = _until(lambda: bool(READY.search(log.read_text())), "dev ready")
        late = f"late-{uuid.uuid4().hex[:8]}@globex.example"
        late_at = _post(ingest, key, "demo_requested", late)
        admin = {"Authorization": f"Bearer {(data / 'dev-admin-key').read_text().strip()}"}

        def visible(email: str) -> Callable[[], bool]:
            url = f"{ops}/v1/contacts/{stable_id('c_', f'email:{email}')}"
            return lambda: _answers(url, admin)

        seen = _all_until({
            "early": visible(early), "late": visible(late),
            "reminder": lambda: any(late in p.read_text() for p in (data / "outbox").glob("*.eml")),
        })  # fmt: skip
        return {
            "launch_to_ready_s": ready_at - launched,
            "baseline_visible_ms": (seen["early"] - early_at) * 1000,
            "ready_visible_ms": (seen["late"] - late_at) * 1000,
            "ready_reminder_ms": (seen["reminder"] - late_at) * 1000,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench dev_ready", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="dev-ready-") as tmp:
            runs.append(one_run(Path(tmp)))
        print(f"run {n + 1}: " + ", ".join(f"{k} {v:,.1f}" for k, v in runs[-1].items()))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"trellis dev launch -> ready            median {med['launch_to_ready_s']:6.1f} s")
    print(f"baseline: post at ingest ready -> ops  median {med['baseline_visible_ms']:6.0f} ms")
    print(f"post after 'ready' -> ops API          median {med['ready_visible_ms']:6.0f} ms  "
          f"ratio {med['ready_visible_ms'] / med['baseline_visible_ms']:.1%} of baseline "
          "(target < 1000 ms)")  # fmt: skip
    print(f"post after 'ready' -> rep reminder .eml median {med['ready_reminder_ms']:6.0f} ms")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "dev_ready.json"
    out.write_text(json.dumps({
        "at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "runs": runs,
        "median": med, "note": "one machine shared with other work: figures vary between runs",
    }, indent=2) + "\n")  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    cli()
