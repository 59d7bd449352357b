"""Orchestrator processes as they run in production: scaled out in one consumer group, and
killed with SIGKILL in the middle of a stream. Either way every event applies exactly once and
the stages equal a pure replay of the same events. The events are published as ingest does, the
demo requests on the hand-raises' own topic (read ahead of the rest), so each run also holds
hand-raises overtaking their accounts' earlier events."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.topics import HANDRAISES, engagement_topic
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, inbox
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import to_engagement
from services.orchestrator.domain.identity import resolve_accounts, resolve_contacts
from tests.probes import eventually, produce
from trellis.broker import EmbeddedBroker
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

KINDS = [
    ("page_viewed", {"path": "/blog"}),
    ("page_viewed", {"path": "/pricing"}),
    ("content_downloaded", {"asset": "a", "content_type": "ebook"}),
    ("webinar_attended", {"webinar": "w"}),
    ("email_clicked", {}),
    ("demo_requested", {}),
]
T0 = datetime(2026, 11, 2, tzinfo=UTC)


def stream(tag: str, n: int, people: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        p = rnd.randrange(people)
        kind, props = KINDS[rnd.randrange(len(KINDS)) if rnd.random() < 0.97 else 5]
        out.append(
            {
                "id": f"{tag}-{i}",
                "type": kind,
                "source": "test",
                "time": (T0 + timedelta(minutes=rnd.randrange(60 * 24 * 7))).isoformat(),
                "contact": {"external_id": f"{tag}-u{p}", "traits": {"role": "technical"}},
                "account": {"external_id": f"{tag}-acc{p // 4}"},
                "properties": props,
            }
        )
    return out


async def publish(bootstrap: str, events: list[dict[str, Any]]) -> None:
    """As ingest publishes them: keyed by account, hand-raises on their own topic."""
    by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
    for e in events:
        key = EngagementEvent.model_validate(e).partition_key().encode()
        by_topic.setdefault(engagement_topic(e["type"]), []).append((key, orjson.dumps(e)))
    assert HANDRAISES in by_topic, "the stream must hold hand-raises"
    for topic, records in by_topic.items():
        await produce(bootstrap, topic, records)


def assigned(log: str) -> dict[str, set[int]]:
    """A member's last assignment, topic -> partitions, from its log."""
    import re

    lines = [line for line in log.splitlines() if "partitions assigned" in line]
    found = re.findall(r"([\w.]+)\[([\d,]+)\]", lines[-1].partition("assigned")[2]) if lines else []
    return {topic: {int(p) for p in parts.split(",")} for topic, parts in found}


def pure_stages(events: list[dict[str, Any]]) -> dict[str, str]:
    """The stages a single pure replay of all events gives, keyed by external id."""
    parsed = [EngagementEvent.model_validate(e) for e in events]
    parsed.sort(key=lambda e: (e.time, e.id))
    people = resolve_contacts(parsed, {})
    accounts = resolve_accounts(parsed, [])
    engagements = [
        to_engagement(e).model_copy(
            update={
                "contact_key": people.contact_of[e.id],
                "account_key": accounts.account_of[e.id],
            }
        )
        for e in parsed
    ]
    result = decide({}, {}, engagements, default_playbook(), T0 + timedelta(days=8))
    ext_of = {people.contact_of[e.id]: e.contact.external_id for e in parsed}
    return {ext_of[cid]: str(s.stage) for cid, s in result.contacts.items()}


async def db_stages(engine: AsyncEngine, tag: str) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(contacts.c.external_id, contacts.c.stage).where(
                contacts.c.external_id.like(f"{tag}-%")
            )
        )
        return {k: v for k, v in rows}


async def applied(engine: AsyncEngine, tag: str) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(inbox).where(inbox.c.event_id.like(f"{tag}-%"))
        )
        return int(count or 0)


class Orchestrators:
    """`trellis orchestrator` child processes sharing one consumer group."""

    def __init__(self, settings: TrellisSettings, group: str, logs: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")} | {
            "TRELLIS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "TRELLIS_KAFKA_IDEMPOTENCE": "false",
            "TRELLIS_DATABASE_URL": settings.resolved_database_url,
            "TRELLIS_ORCHESTRATOR_GROUP": group,
            "TRELLIS_ORCHESTRATOR_MAX_BATCH": "200",
        }
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"orchestrator-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "console.cli", "orchestrator"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def wait_consuming(self, proc: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
        log = self.logs / f"orchestrator-{self.procs.index(proc)}.log"
        end = time.monotonic() + deadline_s
        while "consuming" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < end, log.read_text()
            time.sleep(0.1)

    def stop_all(self) -> list[str]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        return [p.read_text() for p in sorted(self.logs.glob("orchestrator-*.log"))]


@pytest.fixture
def orchestrators(settings: TrellisSettings, tmp_path: Path) -> Iterator[Orchestrators]:
    group = Orchestrators(settings, f"orc-{uuid.uuid4().hex}", tmp_path)
    yield group
    group.stop_all()


async def test_two_orchestrators_split_six_partitions_and_equal_one_pure_replay(
    isolated_broker: EmbeddedBroker,
    settings: TrellisSettings,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    own = settings.model_copy(update={"kafka_bootstrap": isolated_broker.bootstrap})
    await ensure_topics(own, partitions=6)
    group = Orchestrators(own, f"orc-{uuid.uuid4().hex}", tmp_path)
    try:
        first, second = group.start(), group.start()
        group.wait_consuming(first)
        group.wait_consuming(second)
        tag = f"so{uuid.uuid4().hex[:6]}"
        events = stream(tag, 1200, people=120, seed=1)
        await publish(own.bootstrap_servers, events)
        await eventually(lambda: applied(engine, tag), lambda n: n == len(events), deadline_s=90)
        assert await db_stages(engine, tag) == pure_stages(events)
    finally:
        logs = group.stop_all()
    counts = [_records(log) for log in logs]
    assert all(c > 0 for c in counts), f"both members must have taken partitions: {counts}"
    assert sum(counts) >= len(events)
    for log in logs:  # co-partitioned: one account's two topics are read by one member
        owned = assigned(log)
        assert owned.get("trellis.engagement.v1"), log
        assert owned.get("trellis.handraises.v1") == owned["trellis.engagement.v1"], owned


def _records(log: str) -> int:
    import re

    found = re.findall(r"stopped: (\d+) records", log)
    return int(found[-1]) if found else 0


async def test_sigkill_in_the_middle_of_a_stream_loses_and_double_applies_nothing(
    isolated_broker: EmbeddedBroker,
    settings: TrellisSettings,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    own = settings.model_copy(update={"kafka_bootstrap": isolated_broker.bootstrap})
    await ensure_topics(own, partitions=3)
    group = Orchestrators(own, f"orc-{uuid.uuid4().hex}", tmp_path)
    tag = f"k9{uuid.uuid4().hex[:6]}"
    events = stream(tag, 1500, people=150, seed=2)
    try:
        victim = group.start()
        group.wait_consuming(victim)
        await publish(own.bootstrap_servers, events[:1000])
        await eventually(lambda: applied(engine, tag), lambda n: n > 100, deadline_s=60)
        victim.kill()  # SIGKILL: no shutdown, no final commit
        victim.wait()
        in_flight = await applied(engine, tag)
        await publish(own.bootstrap_servers, events[1000:] + events[:200])  # + replays
        survivor = group.start()
        group.wait_consuming(survivor, deadline_s=90)
        await eventually(lambda: applied(engine, tag), lambda n: n == len(events), deadline_s=120)
    finally:
        group.stop_all()
    assert in_flight < len(events), "the kill must land mid-stream for this test to mean anything"
    assert await db_stages(engine, tag) == pure_stages(events)
    async with engine.connect() as conn:
        dup = await conn.scalar(
            text(
                "SELECT count(*) FROM (SELECT subject_id, to_stage, event_id, count(*) AS n "
                "FROM stage_history WHERE event_id LIKE :tag "
                "GROUP BY subject_id, to_stage, event_id) g WHERE n > 1"
            ),
            {"tag": f"{tag}-%"},
        )
    assert dup == 0, "a transition was recorded twice"
