"""`trellis dev` as `make run` starts it: broker, migrations, topics and the three services.

Driven only through public interfaces: HTTP into ingest, the SQLite file the orchestrator writes,
and signals to the supervisor.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from schemas.commands import Channel, DispatchTouch
from schemas.topics import TOUCHES
from tests.e2e.dev_stack import alive, wait_for
from tests.probes import produce
from trellis.kafka import encode
from trellis.settings import TrellisSettings


def test_an_event_posted_to_ingest_is_consumed_by_the_orchestrator_and_ctrl_c_stops_all(
    dev_stack: tuple[subprocess.Popen[bytes], int, Path, Path],
) -> None:
    proc, port, db, log = dev_stack
    base = f"http://127.0.0.1:{port}"

    def ingest_ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ingest_ready, "ingest ready", log)
    wait_for(lambda: "orchestrator consuming" in log.read_text(), "orchestrator consuming", log)
    write_key = (db.parent / "dev-write-key").read_text().strip()
    event_id = f"e2e-{uuid.uuid4().hex}"
    reply = httpx.post(
        f"{base}/v1/events",
        json={
            "id": event_id,
            "type": "page_viewed",
            "source": "e2e",
            "time": "2026-11-02T10:00:00Z",
            "contact": {"email": "ana@acme.example"},
            "account": {"domain": "acme.example"},
            "properties": {"path": "/pricing"},
        },
        auth=(write_key, ""),
        timeout=10,
    )
    assert reply.status_code == 202, reply.text

    def consumed() -> bool:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT 1 FROM inbox WHERE event_id = ?", (event_id,)).fetchall()
        return bool(rows)

    wait_for(consumed, f"event {event_id} in the orchestrator's inbox", log)

    pids = [int(p) for p in re.findall(r"started [\w-]+ \(pid (\d+)\)", log.read_text())]
    assert len(pids) >= 4  # broker, ingest, orchestrator, notifier (+ dev sinks)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert [p for p in pids if alive(p)] == [], "children left running after Ctrl-C"
    text = log.read_text()
    assert "MEMORY-ONLY" in text
    assert re.search(r"^\s*orchestrator \|", text, re.M), "service output is prefixed"


def test_killing_the_supervisor_outright_leaves_no_orphans(
    dev_stack: tuple[subprocess.Popen[bytes], int, Path, Path],
) -> None:
    proc, _port, _db, log = dev_stack
    wait_for(lambda: "pipeline running" in log.read_text(), "pipeline running", log)
    pids = [int(p) for p in re.findall(r"started [\w-]+ \(pid (\d+)\)", log.read_text())]
    assert len(pids) >= 4
    proc.kill()
    proc.wait()
    end = time.monotonic() + 30
    while time.monotonic() < end and any(alive(p) for p in pids):
        time.sleep(0.2)
    assert [p for p in pids if alive(p)] == []


def test_if_the_embedded_broker_dies_the_whole_stack_stops_with_an_error(
    dev_stack: tuple[subprocess.Popen[bytes], int, Path, Path],
) -> None:
    proc, _port, _db, log = dev_stack
    wait_for(lambda: "pipeline running" in log.read_text(), "pipeline running", log)
    broker_pid = int(re.findall(r"started broker \(pid (\d+)\)", log.read_text())[0])
    pids = [int(p) for p in re.findall(r"started [\w-]+ \(pid (\d+)\)", log.read_text())]
    os.kill(broker_pid, signal.SIGKILL)
    assert proc.wait(timeout=60) == 1
    text = log.read_text()
    assert "broker was killed by SIGKILL: the embedded broker is memory-only" in text
    assert [p for p in pids if alive(p)] == []


def _publish(env_file: Path, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    """Produce to the running dev stack's broker (its port is in the stack's env file)."""
    env = json.loads(env_file.read_text())
    settings = TrellisSettings(embedded_broker_port=int(env["TRELLIS_EMBEDDED_BROKER_PORT"]))
    asyncio.run(produce(settings.bootstrap_servers, topic, items))


def _publish_touches(env_file: Path, touches: list[DispatchTouch]) -> None:
    _publish(env_file, TOUCHES, [(t.contact_id.encode(), encode(t)) for t in touches])


def test_with_no_providers_configured_sent_messages_land_in_the_dev_outbox(
    dev_stack: tuple[subprocess.Popen[bytes], int, Path, Path],
) -> None:
    proc, _port, db, log = dev_stack
    wait_for(lambda: "pipeline running" in log.read_text(), "pipeline running", log)
    assert re.search(r"started sinks \(pid \d+\)", log.read_text())
    run = uuid.uuid4().hex[:8]
    common = {
        "contact_id": "c-dev",
        "template_id": "generic",
        "stage": "engaged",
        "variables": {"subject": "Hello", "body": f"dev outbox {run}"},
        "decided_at": datetime.now(UTC),
    }
    _publish_touches(
        db.parent.parent / "env.json",
        [
            DispatchTouch(touch_id=f"{run}-m", channel=Channel.EMAIL, to="ana@acme.test", **common),
            DispatchTouch(touch_id=f"{run}-s", channel=Channel.SMS, to="+15551230000", **common),
        ],
    )
    outbox = db.parent / "outbox"

    def delivered() -> bool:
        emls = [p.read_text() for p in outbox.glob("*.eml")]
        sms = [p.read_text() for p in (outbox / "sms").glob("*.json")]
        return any(f"{run}-m" in e for e in emls) and any(run in m for m in sms)

    wait_for(delivered, "an .eml and an SMS .json in the dev outbox", log)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
