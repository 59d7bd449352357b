"""A touch the notifier could not send (transient provider failure) is planned again with backoff
on both databases, dispatched under its own id, and given up after the policy's last attempt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel as WireChannel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from schemas.topics import OUTCOMES, TOUCHES
from services.orchestrator.adapters import consent_store
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.tables import contacts, decisions, touches
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import ConsentEntry, ConsentStatus
from services.orchestrator.domain.touch_retry import TouchRetryPolicy
from services.orchestrator.outcomes import apply_outcomes
from services.orchestrator.people import Nurture
from services.orchestrator.scheduler import Scheduler
from tests.probes import StoredRecord, read_topic
from trellis.kafka import encode, make_producer
from trellis.settings import TrellisSettings

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: inside the email window
NURTURE = Nurture(default_nurture(), ("rep@x.example",), ("x.example",))


async def _dispatched_touch(engine: AsyncEngine) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    person, touch = f"c_{tag}", f"t_{tag}"
    async with engine.begin() as conn:
        await conn.execute(contacts.insert(), [
            {"id": person, "email": f"{person}@x.example", "account_id": None,
             "stage": "awareness", "traits": {}, "state": {}, "created_at": NOW,
             "updated_at": NOW}])  # fmt: skip
        await conn.execute(touches.insert(), [
            {"id": touch, "contact_id": person, "account_id": None, "channel": "email",
             "template_id": "awareness/problem_framing", "stage": "awareness",
             "sequence_step": "awareness-education/problem-framing", "status": "dispatched",
             "due_at": NOW - timedelta(minutes=2), "dispatched_at": NOW - timedelta(minutes=1),
             "created_at": NOW - timedelta(days=1)}])  # fmt: skip
        await consent_store.append(conn, [consent_store.LedgerRow(ConsentEntry(
            person, Channel.EMAIL, ConsentStatus.GRANTED, "form", "", NOW - timedelta(days=2)),
            None)])  # fmt: skip
    return person, touch


def _failed(person: str, touch: str, offset: int) -> StoredRecord:
    outcome = TouchOutcome(
        id=f"{touch}:failed", touch_id=touch, contact_id=person, channel=WireChannel.EMAIL,
        status=OutcomeStatus.FAILED, retryable=True, detail="421 try again later",
        occurred_at=NOW,
    )  # fmt: skip
    return StoredRecord(OUTCOMES, 0, offset, encode(outcome))


async def _rows(engine: AsyncEngine, person: str) -> dict[str, tuple[str, datetime]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(touches.c.id, touches.c.status, touches.c.due_at).where(
                touches.c.contact_id == person
            )
        )
        return {r.id: (r.status, r.due_at) for r in found}


async def _log(engine: AsyncEngine, person: str) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(decisions.c.touch_id, decisions.c.kind, decisions.c.reason)
            .where(
                decisions.c.contact_id == person,
                decisions.c.kind.in_(["touch_retry_planned", "touch_failed"]),
            )
            .order_by(decisions.c.id)
        )
        return [(r.touch_id, r.kind, r.reason) for r in found]


async def test_a_transient_failure_plans_one_retry_even_when_the_outcome_is_replayed(
    engine: AsyncEngine,
) -> None:
    person, touch = await _dispatched_touch(engine)
    policy = NURTURE.config.retry
    failed = _failed(person, touch, 0)
    assert await apply_outcomes([failed], engine, "v", NOW, policy) == []
    assert await apply_outcomes([failed], engine, "v", NOW, policy) == []  # redelivered

    rows = await _rows(engine, person)
    assert set(rows) == {touch, f"{touch}~r1"}
    assert rows[touch][0] == "failed"
    status, due = rows[f"{touch}~r1"]
    assert status == "planned"
    assert NOW + policy.base / 2 <= due <= NOW + policy.base
    assert await _log(engine, person) == [(touch, "touch_retry_planned", "PROVIDER_TRANSIENT")]


async def test_the_retry_is_dispatched_under_its_own_id_and_the_chain_ends_after_the_last(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    person, touch = await _dispatched_touch(engine)
    policy = TouchRetryPolicy(attempts=1)
    await apply_outcomes([_failed(person, touch, 0)], engine, "v", NOW, policy)
    retry = f"{touch}~r1"
    later = NOW + policy.base  # the retry is due by then
    producer = make_producer(settings)
    await producer.start()
    try:
        scheduler = Scheduler(engine, producer, NURTURE, "retry-test", lambda: later)
        assert await scheduler.dispatch_due() >= 1
    finally:
        await producer.stop()
    records = await read_topic(
        settings.bootstrap_servers, TOUCHES,
        lambda rs: any(orjson.loads(r.value)["touch_id"] == retry for r in rs))  # fmt: skip
    sent = [orjson.loads(r.value) for r in records if orjson.loads(r.value)["touch_id"] == retry]
    assert len(sent) == 1 and sent[0]["to"] == f"{person}@x.example"

    await apply_outcomes([_failed(person, retry, 1)], engine, "v", later, policy)
    rows = await _rows(engine, person)
    assert set(rows) == {touch, retry}, "no third attempt: the policy allows one retry"
    assert rows[retry][0] == "failed"
    assert (retry, "touch_failed", "RETRIES_EXHAUSTED") in await _log(engine, person)


async def test_a_failure_past_the_maximum_age_is_final(engine: AsyncEngine) -> None:
    person, touch = await _dispatched_touch(engine)
    policy = TouchRetryPolicy(max_age=timedelta(minutes=30))
    await apply_outcomes([_failed(person, touch, 0)], engine, "v", NOW + timedelta(hours=1), policy)
    assert set(await _rows(engine, person)) == {touch}
    assert await _log(engine, person) == [(touch, "touch_failed", "RETRY_EXPIRED")]
