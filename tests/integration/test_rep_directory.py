"""The rep directory in the nurture plan: a reminder falls in the *rep's* working hours (their
zone, not the contact's) and reaches the rep on their channel (``rep_channel`` for the notifier)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT, REMINDERS
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, reminders
from services.orchestrator.domain.nurture_config import NurtureConfig, RepProfile
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from services.orchestrator.scheduler import Scheduler
from tests.probes import StoredRecord, read_topic
from trellis.kafka import make_producer
from trellis.settings import TrellisSettings

WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # 04:00 in Los Angeles
WEST = "West.Rep@x.example"  # the directory matches emails case-insensitively


def _nurture(reps: dict[str, RepProfile] | None = None) -> Nurture:
    plan = default_nurture().model_dump(by_alias=True) | {"reps": reps or {}}
    return Nurture(NurtureConfig.model_validate(plan), (WEST,))


DIRECTORY = _nurture({WEST: RepProfile(timezone="America/Los_Angeles", channel="slack")})


async def _demo_request(engine: AsyncEngine, nurture: Nurture, at: datetime) -> str:
    tag = uuid.uuid4().hex[:8]
    value = orjson.dumps({
        "id": f"{tag}-1", "type": "demo_requested", "source": "test",
        "time": at.isoformat(),
        "contact": {"external_id": f"{tag}-ana", "email": f"ana@{tag}.example"},
        "account": {"external_id": f"acc-{tag}", "domain": f"{tag}.example"},
    })  # fmt: skip
    record = StoredRecord(ENGAGEMENT, 0, 1, value)
    await apply_engagement([record], engine, default_playbook(), lambda: at, nurture=nurture)
    async with engine.connect() as conn:
        cid = select(contacts.c.id).where(contacts.c.email == f"ana@{tag}.example")
        return str(await conn.scalar(select(reminders.c.id).where(reminders.c.contact_id.in_(cid))))


async def _due(engine: AsyncEngine, rid: str) -> datetime:
    async with engine.connect() as conn:
        due = await conn.scalar(select(reminders.c.due_at).where(reminders.c.id == rid))
    assert isinstance(due, datetime)
    return due


async def test_a_reminder_waits_for_the_reps_working_hours_in_the_reps_zone(
    engine: AsyncEngine,
) -> None:
    unknown_rep = await _demo_request(engine, _nurture(), WEDNESDAY_NOON)
    west_rep = await _demo_request(engine, DIRECTORY, WEDNESDAY_NOON)
    assert await _due(engine, unknown_rep) == WEDNESDAY_NOON, "no zone known: the contact's (UTC)"
    assert await _due(engine, west_rep) == datetime(2026, 11, 18, 16, 30, tzinfo=UTC)  # 08:30 PT


async def test_the_dispatched_reminder_names_the_reps_channel_and_waits_for_their_morning(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    rid = await _demo_request(engine, DIRECTORY, WEDNESDAY_NOON)
    producer = make_producer(settings)
    await producer.start()
    try:
        early = Scheduler(engine, producer, DIRECTORY, "dir", lambda: WEDNESDAY_NOON)
        await early.dispatch_due()
        assert early.dispatched == 0, "not due before the rep's morning"
        morning = WEDNESDAY_NOON + timedelta(hours=4, minutes=31)
        late = Scheduler(engine, producer, DIRECTORY, "dir", lambda: morning)
        await late.dispatch_due()
    finally:
        await producer.stop()
    records = await read_topic(
        settings.bootstrap_servers, REMINDERS,
        lambda rs: any(orjson.loads(r.value)["touch_id"] == rid for r in rs))  # fmt: skip
    (cmd,) = [c for r in records if (c := orjson.loads(r.value))["touch_id"] == rid]
    assert cmd["to"] == WEST
    assert cmd["variables"]["rep_channel"] == "slack"
