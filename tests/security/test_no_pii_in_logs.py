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
import re
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel, DispatchTouch
from schemas.dead_letter import DLQ_HEADER_ERROR
from schemas.outcomes import TouchOutcome
from schemas.topics import ENGAGEMENT, dead_letter
from services.ingest.settings import DEV_UNSUBSCRIBE_SECRET
from services.ingest.twilio import twilio_signature
from services.notifier.channels.base import SendResult
from services.notifier.dispatch import Dispatcher
from services.notifier.render import JinjaRenderer, RenderedMessage
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.e2e.dev_stack import dev_stack
from tests.e2e.dev_stack import wait_for as _wait_for
from tests.e2e.test_dev_pipeline import _publish, _publish_touches
from tests.pii import find_personal_data, no_personal_data_logged
from tests.probes import StoredRecord, read_topic
from trellis.broker import EmbeddedBroker
from trellis.consumer import BatchConsumer, LoopPolicy, Record, Rejected
from trellis.db import create_engine
from trellis.kafka import ensure_topics, make_producer
from trellis.logs import configure_logging
from trellis.settings import TrellisSettings

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
    assert find_personal_data(text.splitlines()) == []  # nobody else's either


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


# In-process paths, scanned by tests/security/conftest.py's capture (every record at INFO+, any
# logger) and checked here for the lines that must be there, so a silent path cannot pass.

POISON_EMAIL, REP = "poison.ana@acme.example", "rep.ana@vendor.example"


async def test_a_database_error_on_contact_data_is_logged_by_offsets_and_kind(
    engine: AsyncEngine, broker: EmbeddedBroker
) -> None:
    """A unique violation on an email (PostgreSQL echoes the key in ``DETAIL``; SQLAlchemy would
    add ``[parameters: ...]``): the poison-suspect and dead-letter lines name the records by
    offset and the error by kind; the dead-letter header keeps the error for whoever replays."""
    probe = Table(
        f"pii_probe_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("email", String(200), primary_key=True),
    )
    async with engine.begin() as conn:
        await conn.run_sync(probe.metadata.create_all)
        await conn.execute(insert(probe), [{"email": POISON_EMAIL}])

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        async with engine.begin() as conn:
            for r in records:  # one statement per record, as a handler's upserts would
                await conn.execute(insert(probe), [{"email": (r.value or b"").decode()}])
        return []

    topic = f"pii.{uuid.uuid4().hex[:8]}"
    settings = TrellisSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)
    await ensure_topics(settings, [topic, dead_letter(topic)], partitions=1)
    values = [f"pii.{i}@acme.example".encode() for i in range(3)] + [POISON_EMAIL.encode()]
    records = [StoredRecord(topic, 0, 100 + i, v) for i, v in enumerate(values)]
    producer = make_producer(settings)
    await producer.start()
    try:
        with no_personal_data_logged() as capture:
            loop = BatchConsumer("pii", None, producer, handler, LoopPolicy(backoff_s=0.01))
            await loop.process(records)
    finally:
        await producer.stop()
    assert loop.stats.dead_lettered == 1
    lines = capture.lines()
    suspects = [line for line in lines if "poison suspect" in line]
    assert suspects and all("IntegrityError" in line for line in suspects), lines
    assert f"batch of 4 {topic}[0]@100..103 failed" in suspects[0]
    assert any(f"dead-lettered {topic}[0]@103" in line for line in lines), lines
    dlq = await read_topic(broker.bootstrap, dead_letter(topic), lambda r: len(r) >= 1)
    assert b"IntegrityError" in dict(dlq[0].headers)[DLQ_HEADER_ERROR]


class _EchoingSender:
    """An adapter bug of the kind libraries make: the exception names the address."""

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        raise ValueError(f"cannot deliver to {touch.to} (+14155550123)")


async def test_a_sender_raising_with_the_rep_address_is_logged_by_ids_and_kind(
    engine: AsyncEngine,
) -> None:
    class Outcomes:
        published: list[TouchOutcome] = []

        async def publish(self, outcomes: Sequence[TouchOutcome]) -> None:
            self.published.extend(outcomes)

    touch = DispatchTouch(
        touch_id=f"t-{uuid.uuid4().hex[:8]}",
        contact_id="c-42",
        channel=Channel.REP_EMAIL_REMINDER,
        template_id="rep_reminder",
        stage="sql",
        to=REP,
        marketing=False,
        variables={"reason": "Demo requested", "contact": {"name": "Ana"}},
        decided_at=datetime.now(UTC),
    )
    senders = {Channel.REP_EMAIL_REMINDER: _EchoingSender()}
    outcomes = Outcomes()
    dispatcher = Dispatcher(engine, senders, JinjaRenderer(), outcomes, lambda: datetime.now(UTC))
    with no_personal_data_logged() as capture:
        await dispatcher.dispatch([(touch, 0)])
    [outcome] = outcomes.published
    assert outcome.status.value == "failed" and not outcome.retryable
    [line] = [line for line in capture.lines() if line.startswith("ERROR")]
    assert f"raised ValueError on touch {touch.touch_id} (contact c-42)" in line
    assert f"{Path(__file__).name}:" in line  # where it was raised, for the adapter's author


ROOT = Path(__file__).resolve().parents[2]


def test_every_engine_hides_its_parameters_and_is_built_in_one_place() -> None:
    """Engines come from ``trellis.db.create_engine`` only, and it always hides parameters
    (SQLAlchemy's ``[parameters: ...]`` in errors and logs would show contact data)."""
    others = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("trellis", "services", "chaos", "bench", "migrations")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "trellis" / "db.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bcreate_async_engine\b|\bsqlalchemy\.create_engine\b|"
                     r"from sqlalchemy(\.ext\.asyncio)? import .*\bcreate(_async)?_engine\b", line)
    ]  # fmt: skip
    assert others == []
    for url in ("sqlite+aiosqlite:///:memory:", "postgresql+asyncpg://u@127.0.0.1:1/x"):
        engine = create_engine(url, hide_parameters=False)
        assert engine.sync_engine.hide_parameters is True, url
