"""`trellis dev` keeps going and means "ready": a killed service comes back, "ready" is said only
once every consumer owns partitions, and the dev rep hears of a demo request at once.

Driven through public interfaces only: ingest's HTTP API, the ops API, the dev outbox, signals.
The figures (post -> visible in the ops API, post -> reminder in the outbox) are printed, never
asserted: timing belongs in bench/ (``python -m bench dev_ready``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

import httpx

from console.dev_plan import DEV_REP
from services.orchestrator.domain.identity import stable_id
from tests.e2e.dev_stack import READY, alive, stack_env, started_pids, wait_for
from trellis.demo_world import DEMO_REPS

Stack = tuple[subprocess.Popen[bytes], int, Path, Path]


def demo_request(port: int, data: Path, email: str) -> float:
    """The README's quick-start demo request; returns when it was accepted (monotonic)."""
    reply = httpx.post(
        f"http://127.0.0.1:{port}/v1/events",
        json={
            "id": f"evt-{uuid.uuid4().hex}",
            "type": "demo_requested",
            "source": "curl",
            "time": datetime.now(UTC).isoformat(),
            "contact": {"email": email},
            "account": {"domain": email.split("@")[1]},
            "properties": {"notes": "wants a demo"},
        },
        auth=((data / "dev-write-key").read_text().strip(), ""),
        timeout=10,
    )
    assert reply.status_code == 202, reply.text
    return time.monotonic()


def reminders_for(data: Path, email: str) -> list[str]:
    """Reminder emails in the dev outbox that went to the dev rep about ``email``'s contact."""
    found = []
    for path in (data / "outbox").glob("*.eml"):
        message = message_from_bytes(path.read_bytes())
        if message["To"] == DEV_REP and email in path.read_text(errors="replace"):
            found.append(str(message["Subject"]))
    return found


def ops_get(log: Path, data: Path, path: str, key_file: str = "dev-admin-key") -> httpx.Response:
    port = stack_env(log)["TRELLIS_OPS_PORT"]
    key = (data / key_file).read_text().strip()
    return httpx.get(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=5
    )


def test_after_ready_a_demo_request_reaches_the_dev_rep_and_the_demo_reaches_both_zones(
    dev_stack: Stack,
) -> None:
    proc, port, db, log = dev_stack
    data = db.parent
    wait_for(lambda: READY.search(log.read_text()), "dev ready", log)
    email = f"ana-{uuid.uuid4().hex[:6]}@acme.example"
    posted = demo_request(port, data, email)
    contact = stable_id("c_", f"email:{email}")
    wait_for(lambda: ops_get(log, data, f"/v1/contacts/{contact}").status_code == 200,
             "the contact in the ops API", log)  # fmt: skip
    visible = time.monotonic() - posted
    wait_for(lambda: reminders_for(data, email), "the dev rep's reminder in the outbox", log)
    reminded = time.monotonic() - posted
    ready_s = float(READY.search(log.read_text()).group(1))  # type: ignore[union-attr]
    print(
        f"\ndev: ready {ready_s:.1f}s after start; post -> visible in the ops API "
        f"{visible * 1000:.0f} ms; post -> reminder in the outbox {reminded * 1000:.0f} ms"
    )
    person = ops_get(log, data, f"/v1/contacts/{contact}").json()
    account = ops_get(log, data, f"/v1/accounts/{person['account_id']}").json()
    # the rep owns the account (the sales handoff's owner, from the pool); a contact at an owned
    # account has no owner of its own
    assert (person["owner_rep"] or account["owner_rep"]) == DEV_REP
    inbox = ops_get(log, data, "/v1/reminders", key_file="dev-rep-key")
    assert inbox.status_code == 200, inbox.text
    items = inbox.json()["items"]
    assert {r["contact_id"] for r in items} == {contact}
    # one reminder, the call-now one: the SQL handoff (the dev plan has a sales team) rides on it
    assert [r["reason"] for r in items] == ["demo_requested"]

    # `trellis demo`: the world's CRM owners, reps in two time zones, own its accounts
    demo = [sys.executable, "-m", "console.cli", "demo", "--accounts", "80"]
    world = data.parent / "world.jsonl"
    subprocess.run([*demo, "--out", str(world)], env=stack_env(log), check=True, timeout=120)
    sent = [json.loads(line) for line in world.read_text().splitlines()]
    named = {e["properties"]["owner_email"] for e in sent if e["type"] == "crm_owner_changed"}
    assert named == {rep.email for rep in DEMO_REPS}  # both zones are in the demo
    streamed = subprocess.run(
        [*demo, "--url", f"http://127.0.0.1:{port}"],
        env=stack_env(log), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr

    def owners() -> set[str]:
        listed = ops_get(log, data, "/v1/accounts?limit=200").json()["items"]
        return {a["owner_rep"] for a in listed if a["owner_rep"]}

    wait_for(lambda: named <= owners(), "accounts owned by both demo reps", log)
    assert owners() <= named | {DEV_REP}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]


def test_a_service_killed_with_sigkill_is_restarted_and_the_pipeline_goes_on(
    dev_stack: Stack,
) -> None:
    proc, port, db, log = dev_stack
    wait_for(lambda: READY.search(log.read_text()), "dev ready", log)
    killed = {name: started_pids(log, name)[0] for name in ("notifier", "orchestrator")}
    for pid in killed.values():
        os.kill(pid, signal.SIGKILL)
    for name in killed:
        wait_for(lambda n=name: f"{n} was killed by SIGKILL; restarting it in" in log.read_text(),  # type: ignore[misc]
                 f"{name}'s restart", log)  # fmt: skip
        wait_for(lambda n=name: f"{n} ready again (restart 1)" in log.read_text(),  # type: ignore[misc]
                 f"{name} ready again", log)  # fmt: skip
    email = f"bo-{uuid.uuid4().hex[:6]}@acme.example"
    demo_request(port, db.parent, email)
    wait_for(lambda: reminders_for(db.parent, email), "a reminder after the restarts", log)
    assert proc.poll() is None  # the supervisor kept going
    for name, pid in killed.items():
        assert not alive(pid)
        assert alive(started_pids(log, name)[-1]), f"{name}'s new process"
    pids = started_pids(log)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert [p for p in pids if alive(p)] == []
    assert not re.search(r"stopping all|broker was killed", log.read_text())
