"""No personal data or credentials in the logs of a real run at INFO level.

``trellis dev`` starts the broker, ingest, orchestrator, notifier and the dev sinks exactly as
``make run`` does, every service logging at INFO into one file. Through their public interfaces
we push emails, phone numbers, write keys (right and wrong), an unsubscribe token, an inbound SMS
STOP, email and SMS touches, and a poison record from a misbehaving producer (its email must
not reach the consumer's warning or the dead-letter error line); then no sensitive string may
appear in the log, in any of its usual spellings.

Found by the run and fixed in ``trellis/logs.py``: httpx logs every outbound request's URL at
INFO (the notifier's SMS requests showed up), and Slack / rep webhook URLs carry their
credential in the URL.
"""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from schemas.commands import Channel, DispatchTouch
from schemas.topics import ENGAGEMENT
from services.ingest.settings import DEV_UNSUBSCRIBE_SECRET
from services.ingest.twilio import twilio_signature
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.e2e.test_dev_pipeline import _publish, _publish_touches, _wait_for, dev_stack
from trellis.logs import configure_logging

__all__ = ["dev_stack"]  # the fixture, shared with the e2e tests

DEV_SMS_TOKEN = "dev-token"


def _spellings(secret: str) -> set[str]:
    out = {secret, secret.lower()}
    if secret.startswith("+"):
        out |= {secret[1:], secret.replace("+", "%2B")}
    if "@" in secret:
        out.add(secret.replace("@", "%40"))
    return out


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_emails_phones_and_credentials_never_reach_the_info_logs(
    dev_stack: tuple[subprocess.Popen[bytes], int, Path, Path],
) -> None:
    proc, port, db, log = dev_stack
    base = f"http://127.0.0.1:{port}"
    run = uuid.uuid4().hex[:8]
    digits = str(int(run, 16) % 10**7).zfill(7)
    ana, bob, carol, poison_email = (
        f"pii.{name}.{run}@acme.example" for name in ("ana", "bob", "carol", "poison")
    )
    ana_phone, carol_phone, stop_phone = (f"+1555{k}{digits[:6]}" for k in "123")
    wrong_key = f"wk_wrong_{run}"
    _wait_for(lambda: _ready(base), "ingest ready", log)
    _wait_for(lambda: "orchestrator consuming" in log.read_text(), "orchestrator consuming", log)
    write_key = (db.parent / "dev-write-key").read_text().strip()
    signer = UnsubscribeSigner(DEV_UNSUBSCRIBE_SECRET.encode(), "")
    token = signer.token(f"ct-{run}", datetime.now(UTC))
    event_id = f"pii-{run}"

    with httpx.Client(base_url=base, timeout=10) as http:
        event = {
            "id": event_id,
            "type": "page_viewed",
            "source": "pii",
            "time": "2026-11-02T10:00:00Z",
            "contact": {"email": ana, "traits": {"phone": ana_phone, "name": "Ana"}},
            "account": {"domain": "acme.example"},
            "properties": {"path": "/pricing"},
        }
        assert http.post("/v1/events", json=event, auth=(write_key, "")).status_code == 202
        assert http.post("/v1/events", json=event, auth=(wrong_key, "")).status_code == 401
        invalid = {**event, "id": f"bad-{run}", "time": ana}  # the email in a refused field
        assert http.post("/v1/events", json=invalid, auth=(write_key, "")).status_code == 422
        identify = {
            "batch": [
                {
                    "type": "identify",
                    "userId": f"u-{run}",
                    "traits": {"email": bob, "phone": ana_phone},
                }
            ]
        }
        assert http.post("/v1/batch", json=identify, auth=(write_key, "")).status_code == 200
        unsubscribed = http.post(f"/v1/unsubscribe?token={token}", data={"x": "One-Click"})
        assert unsubscribed.status_code == 200
        form = {"From": stop_phone, "To": "+15550000000", "Body": "STOP", "MessageSid": run}
        signature = twilio_signature(DEV_SMS_TOKEN, f"{base}/v1/sms/inbound", form.items())
        stop = http.post("/v1/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
        assert stop.status_code == 200, stop.text

    common = {
        "contact_id": f"ct-{run}",
        "template_id": "generic",
        "stage": "engaged",
        "variables": {"subject": "Hello", "body": f"pii {run}"},
        "decided_at": datetime.now(UTC),
    }
    _publish_touches(
        db.parent.parent / "env.json",
        [
            DispatchTouch(touch_id=f"{run}-m", channel=Channel.EMAIL, to=carol, **common),
            DispatchTouch(touch_id=f"{run}-s", channel=Channel.SMS, to=carol_phone, **common),
        ],
    )
    poison = {"id": f"poison-{run}", "contact": {"email": poison_email}, "time": "not a time"}
    _publish(
        db.parent.parent / "env.json", ENGAGEMENT, [(b"a:poison", json.dumps(poison).encode())]
    )

    outbox = db.parent / "outbox"

    def consumed() -> bool:
        with sqlite3.connect(db) as conn:
            seen = conn.execute("SELECT 1 FROM inbox WHERE event_id = ?", (event_id,)).fetchall()
        sent = any(f"{run}-m" in p.read_text() for p in outbox.glob("*.eml"))
        texts = (outbox / "sms").glob("*.json")
        return bool(seen) and sent and any(run in p.read_text() for p in texts)

    _wait_for(consumed, "the event consumed and both touches delivered", log)
    _wait_for(lambda: "dead-lettered" in log.read_text(), "the poison record dead-lettered", log)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]

    text = log.read_text()
    assert "orchestrator" in text and "notifier" in text and "ingest" in text
    secrets = {
        "emails": [ana, bob, carol, poison_email],
        "phones": [ana_phone, carol_phone, stop_phone],
        "credentials": [write_key, wrong_key, token],
    }
    leaks = {
        kind: [s for s in values if any(v in text for v in _spellings(s))]
        for kind, values in secrets.items()
    }
    lines = [line for line in text.splitlines() if run in line or digits[:6] in line]
    assert leaks == {"emails": [], "phones": [], "credentials": []}, "\n".join(lines[:40])


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {n: logging.getLogger(n).level for n in ("httpx", "httpcore", "aiokafka")}
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_outbound_urls_carrying_credentials_are_not_logged_at_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("notifier", "INFO")
    secret_url = "https://hooks.slack.test/services/T000/B000/s3cr3t-webhook-token?key=k3y"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    with httpx.Client(transport=transport) as http:
        http.post(secret_url, json={"text": "call ana@acme.example"})
    logging.getLogger("services.notifier").info("still logging at INFO")
    out = capsys.readouterr().out
    assert "still logging at INFO" in out
    assert "s3cr3t" not in out and "k3y" not in out
