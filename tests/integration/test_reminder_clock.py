"""A snooze that ends reminds the rep again; a reminder nobody worked expires (both DBs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import REMINDERS
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, reminders, touches
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from services.orchestrator.reminder_clock import tend_reminders
from services.orchestrator.scheduler import Scheduler
from tests.probes import StoredRecord, read_topic
from trellis.kafka import ensure_topics, make_producer
from trellis.settings import TrellisSettings

WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
NURTURE = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))
EXPIRE = timedelta(days=14)


async def _demo_reminder(engine: AsyncEngine, at: datetime) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    value = orjson.dumps({
        "id": f"{tag}-1", "type": "demo_requested", "source": "test",
        "time": (at - timedelta(minutes=1)).isoformat(),
        "contact": {"external_id": tag, "email": f"ana@{tag}.example"},
        "account": {"external_id": f"acc-{tag}", "domain": f"{tag}.example"},
    })  # fmt: skip
    record = StoredRecord("trellis.engagement.v1", 0, 0, value)
    await apply_engagement([record], engine, default_playbook(), lambda: at, nurture=NURTURE)
    async with engine.connect() as conn:
        cid = select(contacts.c.id).where(contacts.c.email == f"ana@{tag}.example")
        row = (await conn.execute(select(reminders).where(reminders.c.contact_id.in_(cid)))).one()
    return dict(row._mapping)


async def test_a_snooze_that_ends_reopens_the_reminder_and_dispatches_a_new_call_touch(
    engine: AsyncEngine, settings: TrellisSettings
) -> None:
    r = await _demo_reminder(engine, WEDNESDAY_NOON)
    until = WEDNESDAY_NOON + timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(
            update(reminders)
            .where(reminders.c.id == r["id"])
            .values(status="snoozed", snoozed_until=until)
        )
        assert (await tend_reminders(conn, until - timedelta(minutes=1), EXPIRE)).woken == 0
    later = until + timedelta(minutes=5)
    async with engine.begin() as conn:
        tended = await tend_reminders(conn, later, EXPIRE)
    async with engine.begin() as conn:
        again = await tend_reminders(conn, later, EXPIRE)
        row = (await conn.execute(select(reminders).where(reminders.c.id == r["id"]))).one()
        wake = (
            await conn.execute(
                select(touches).where(touches.c.sequence_step.like(f"reminder/%/{r['id']}"))
            )
        ).one()
    assert (tended.woken, again.woken) == (1, 0)
    assert (row.status, row.snoozed_until) == ("open", None)
    assert wake.status == "planned" and wake.due_at == later and wake.id != r["id"]

    await ensure_topics(settings)
    producer = make_producer(settings)
    await producer.start()
    try:
        scheduler = Scheduler(engine, producer, NURTURE, "test", lambda: later)
        await scheduler.dispatch_due()
    finally:
        await producer.stop()
    records = await read_topic(
        settings.bootstrap_servers, REMINDERS,
        lambda rs: any(orjson.loads(x.value)["touch_id"] == wake.id for x in rs),
    )  # fmt: skip
    (cmd,) = [c for x in records if (c := orjson.loads(x.value))["touch_id"] == wake.id]
    assert cmd["to"] == r["rep"] and cmd["channel"] == "rep_call_reminder"
    assert cmd["variables"]["reason"] == "demo_requested"
    assert cmd["variables"]["reminder_id"] == r["id"]


async def test_a_reminder_nobody_worked_expires_and_its_waiting_touch_is_skipped(
    engine: AsyncEngine,
) -> None:
    r = await _demo_reminder(engine, WEDNESDAY_NOON)
    async with engine.begin() as conn:  # the call touch is still waiting (never dispatched)
        await conn.execute(
            update(touches).where(touches.c.id == r["id"]).values(due_at=r["due_at"])
        )
        early = await tend_reminders(conn, r["due_at"] + EXPIRE - timedelta(minutes=1), EXPIRE)
        late = await tend_reminders(conn, r["due_at"] + EXPIRE + timedelta(minutes=1), EXPIRE)
        row = (await conn.execute(select(reminders).where(reminders.c.id == r["id"]))).one()
        touch = (await conn.execute(select(touches).where(touches.c.id == r["id"]))).one()
    assert (early.expired, late.expired) == (0, 1)
    assert row.status == "expired"
    assert (touch.status, touch.reason) == ("skipped", "REMINDER_EXPIRED")
