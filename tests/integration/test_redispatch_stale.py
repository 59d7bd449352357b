"""Nothing stays ``dispatched``: the broker holding the scheduler's commands dies (Tansu is
memory-only) after the notifier sent some of them and before it saw the rest; on a new broker
the orchestrator re-dispatches every touch still without an outcome, and the notifier's ledger
keeps delivery at most once. Real brokers, real notifier, aiosmtpd, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import OUTCOMES
from services.notifier.main import run as run_notifier
from services.notifier.settings import NotifierSettings
from services.orchestrator.adapters import consent_store
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.tables import contacts, decisions, touches
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import ConsentEntry, ConsentStatus
from services.orchestrator.main import run as run_orchestrator
from services.orchestrator.people import Nurture
from services.orchestrator.redispatch import Redispatcher
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.notifier_servers import SmtpCatcher, smtp_server
from tests.probes import eventually, read_topic
from trellis.broker import EmbeddedBroker, free_port
from trellis.kafka import ensure_topics, make_producer
from trellis.settings import TrellisSettings

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: inside the email window
NURTURE = Nurture(default_nurture(), ("rep@x.example",), ("x.example",))
STEP = ("awareness/problem_framing", "awareness-education/problem-framing")
TEN_YEARS_S = 10 * 365 * 86400.0  # the notifier's max age runs on the real clock


async def _opted_in(engine: AsyncEngine, due: datetime, n: int) -> list[str]:
    """``n`` opted-in contacts, each with one planned email touch due at ``due``."""
    tag = uuid.uuid4().hex[:8]
    ids = [f"{tag}{i}" for i in range(n)]
    async with engine.begin() as conn:
        await conn.execute(contacts.insert(), [
            {"id": f"c_{i}", "email": f"c_{i}@x.example", "account_id": None, "stage": "awareness",
             "traits": {}, "state": {}, "created_at": NOW, "updated_at": NOW} for i in ids
        ])  # fmt: skip
        await conn.execute(touches.insert(), [
            {"id": f"t_{i}", "contact_id": f"c_{i}", "account_id": None, "channel": "email",
             "template_id": STEP[0], "stage": "awareness", "sequence_step": STEP[1],
             "status": "planned", "due_at": due, "created_at": NOW - timedelta(days=1)}
            for i in ids
        ])  # fmt: skip
        await consent_store.append(conn, [consent_store.LedgerRow(ConsentEntry(
            f"c_{i}", Channel.EMAIL, ConsentStatus.GRANTED, "form", "", NOW - timedelta(days=2)),
            None) for i in ids])  # fmt: skip
    return [f"t_{i}" for i in ids]


async def _statuses(engine: AsyncEngine, ids: list[str]) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(touches.c.id, touches.c.status).where(touches.c.id.in_(ids))
        )
        return {r.id: r.status for r in rows}


async def _reasons(engine: AsyncEngine, ids: list[str]) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(decisions.c.touch_id, decisions.c.kind, decisions.c.reason)
            .where(decisions.c.touch_id.in_(ids), decisions.c.reason == "REDISPATCHED")
            .order_by(decisions.c.touch_id)
        )
        return [(r.touch_id, r.kind, r.reason) for r in rows]


def _notifier(bootstrap: str, database_url: str, smtp_port: int) -> NotifierSettings:
    return NotifierSettings(
        env="test", kafka_bootstrap=bootstrap, kafka_idempotence=False, topic_partitions=1,
        database_url=database_url, smtp_port=smtp_port, notifier_http_port=0,
        notifier_group=f"n-{uuid.uuid4().hex}", notifier_max_age_s=TEN_YEARS_S,
    )  # fmt: skip


@asynccontextmanager
async def _running(work: Callable[[asyncio.Event], Awaitable[None]]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(work(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _schedule(settings: TrellisSettings, engine: AsyncEngine, at: datetime) -> int:
    """One scheduler round at ``at``: due touches marked dispatched, commands on the broker."""
    producer = make_producer(settings)
    await producer.start()
    try:
        return await Scheduler(engine, producer, NURTURE, "test", lambda: at).dispatch_due()
    finally:
        await producer.stop()


async def _received(catcher: SmtpCatcher) -> int:
    return len(catcher.messages)


async def test_every_opted_in_contact_gets_its_message_once_after_the_broker_lost_commands(
    isolated_broker: EmbeddedBroker, database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    first = await _opted_in(engine, NOW - timedelta(minutes=2), 3)
    later = await _opted_in(engine, NOW + timedelta(minutes=1), 3)
    async with smtp_server() as (catcher, smtp_port):
        on_a = _notifier(isolated_broker.bootstrap, database_url, smtp_port)
        await ensure_topics(on_a)
        assert await _schedule(on_a, engine, NOW) == 3  # ``first``: sent, outcomes never read
        async with _running(lambda stop: run_notifier(on_a, stop)):
            await eventually(lambda: _received(catcher), lambda n: n == 3, 60)
        assert await _schedule(on_a, engine, NOW + timedelta(minutes=2)) == 3  # never seen
        isolated_broker.stop()  # memory-only: every command and outcome on it is gone
        assert set((await _statuses(engine, first + later)).values()) == {"dispatched"}

        broker_b = EmbeddedBroker("127.0.0.1", free_port(), log_path=tmp_path / "tansu-b.log")
        await broker_b.start()
        try:
            on_b = _notifier(broker_b.bootstrap, database_url, smtp_port)
            orchestrator = OrchestratorSettings(
                env="test", kafka_bootstrap=broker_b.bootstrap, kafka_idempotence=False,
                topic_partitions=1, database_url=database_url, data_dir=tmp_path,
                ops_serve=False, orchestrator_group=f"o-{uuid.uuid4().hex}",
                orchestrator_redispatch_after_s=600, orchestrator_redispatch_interval_s=0.2,
            )  # fmt: skip
            await ensure_topics(on_b)
            past_stale = NOW + timedelta(minutes=13)  # 11 minutes after the last mark
            async with (
                _running(lambda stop: run_notifier(on_b, stop)),
                _running(lambda stop: run_orchestrator(orchestrator, stop, lambda: past_stale)),
            ):
                await eventually(
                    lambda: _statuses(engine, first + later),
                    lambda found: set(found.values()) == {"sent"},
                    90,
                )
        finally:
            broker_b.stop()
    assert {t: len(catcher.by_touch(t)) for t in first + later} == dict.fromkeys(first + later, 1)
    assert len(catcher.messages) == 6
    assert await _reasons(engine, first + later) == sorted(
        (t, "touch_dispatched", "REDISPATCHED") for t in first + later
    )


async def test_a_redispatch_of_an_already_sent_touch_sends_nothing_twice(
    isolated_broker: EmbeddedBroker, database_url: str, engine: AsyncEngine
) -> None:
    [touch] = await _opted_in(engine, NOW - timedelta(minutes=2), 1)
    async with smtp_server() as (catcher, smtp_port):
        notifier = _notifier(isolated_broker.bootstrap, database_url, smtp_port)
        await ensure_topics(notifier)
        assert await _schedule(notifier, engine, NOW) == 1
        async with _running(lambda stop: run_notifier(notifier, stop)):
            producer = make_producer(notifier)
            await producer.start()
            try:
                for n, minutes in enumerate((11, 22, 25), start=1):  # its outcome never applied
                    await _outcomes(isolated_broker, touch, n)  # the notifier answered n times
                    at = NOW + timedelta(minutes=minutes)
                    again = Redispatcher(
                        engine, producer, NURTURE, lambda at=at: at, timedelta(minutes=10)
                    )
                    taken = await again.redispatch_stale()
                    assert taken == (0 if minutes == 25 else 1), "stale 10 minutes after each"
            finally:
                await producer.stop()
            outcomes = await _outcomes(isolated_broker, touch, 3)
    assert len(catcher.by_touch(touch)) == 1
    assert outcomes == [f"{touch}:sent"] * 3, "re-emitted from the ledger under the same id"
    assert [r[2] for r in await _reasons(engine, [touch])] == ["REDISPATCHED"] * 2


async def _outcomes(broker: EmbeddedBroker, touch: str, n: int) -> list[str]:
    """The ids of ``touch``'s outcomes on the topic, once there are ``n``."""
    records = await read_topic(broker.bootstrap, OUTCOMES, lambda rs: len(_of(rs, touch)) >= n, 60)
    return _of(records, touch)


def _of(records: list[Any], touch: str) -> list[str]:
    outcomes = [orjson.loads(r.value) for r in records]
    return [o["id"] for o in outcomes if o["touch_id"] == touch]


async def test_a_touch_whose_command_was_lost_long_ago_is_answered_expired_not_sent_late(
    isolated_broker: EmbeddedBroker, database_url: str, engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)  # the notifier's maximum age (6 h by default) runs on the real clock
    [touch] = await _opted_in(engine, now - timedelta(days=1), 1)
    async with engine.begin() as conn:  # marked a day ago; its command never reached anyone
        await conn.execute(
            touches.update()
            .where(touches.c.id == touch)
            .values(status="dispatched", dispatched_at=now - timedelta(days=1),
                    claimed_at=now - timedelta(days=1))
        )  # fmt: skip
    async with smtp_server() as (catcher, smtp_port):
        notifier = _notifier(isolated_broker.bootstrap, database_url, smtp_port)
        notifier = notifier.model_copy(update={"notifier_max_age_s": 6 * 3600.0})
        await ensure_topics(notifier)
        async with _running(lambda stop: run_notifier(notifier, stop)):
            producer = make_producer(notifier)
            await producer.start()
            try:
                again = Redispatcher(engine, producer, NURTURE, lambda: now, timedelta(minutes=10))
                assert await again.redispatch_stale() == 1 and again.redispatched == 1
            finally:
                await producer.stop()
            records = await read_topic(
                isolated_broker.bootstrap, OUTCOMES, lambda rs: len(_of(rs, touch)) == 1, 60
            )
    [outcome] = [
        orjson.loads(r.value) for r in records if orjson.loads(r.value)["touch_id"] == touch
    ]
    assert (outcome["status"], outcome["retryable"]) == ("failed", False)
    assert outcome["detail"].startswith("expired")
    assert catcher.messages == []
