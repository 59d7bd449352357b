"""Touches are planned in the batch's transaction and dispatched once by the scheduler, decided
again at due time, through the real broker on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT, REMINDERS, TOUCHES
from services.orchestrator.adapters import consent_store
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.tables import contacts, decisions, reminders, touches
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import ConsentEntry, ConsentStatus
from services.orchestrator.main import run
from services.orchestrator.people import Nurture
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually, produce, read_topic
from trellis.db import create_engine
from trellis.kafka import ensure_topics, make_producer
from trellis.settings import TrellisSettings

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday, inside every default window


def _tag() -> str:
    return uuid.uuid4().hex[:10]


async def _seed(engine: AsyncEngine, tag: str, n: int, *, granted: bool = True) -> list[str]:
    """n awareness contacts, each with one planned email touch due an hour ago."""
    people = [f"c_{tag}_{i}" for i in range(n)]
    async with engine.begin() as conn:
        await conn.execute(contacts.insert(), [
            {"id": c, "email": f"{c}@x.example", "account_id": f"a_{tag}_{i}",
             "stage": "awareness", "traits": {}, "state": {}, "created_at": NOW, "updated_at": NOW}
            for i, c in enumerate(people)])  # fmt: skip
        await conn.execute(touches.insert(), [
            {"id": f"t_{c}", "contact_id": c, "account_id": f"a_{tag}_{i}", "channel": "email",
             "template_id": "awareness/problem_framing", "stage": "awareness",
             "sequence_step": "awareness-education/problem-framing", "status": "planned",
             "due_at": NOW - timedelta(hours=1), "created_at": NOW - timedelta(days=1)}
            for i, c in enumerate(people)])  # fmt: skip
        if granted:
            await consent_store.append(conn, [consent_store.LedgerRow(ConsentEntry(
                c, Channel.EMAIL, ConsentStatus.GRANTED, "form", "", NOW - timedelta(days=2)), None)
                for c in people])  # fmt: skip
    return people


async def _dispatched(bootstrap: str, ids: set[str]) -> Counter[str]:
    records = await read_topic(
        bootstrap, TOUCHES,
        lambda rs: ids <= {orjson.loads(r.value)["touch_id"] for r in rs})  # fmt: skip
    return Counter(t for r in records if (t := orjson.loads(r.value)["touch_id"]) in ids)


async def test_two_schedulers_on_one_database_dispatch_every_touch_exactly_once(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    people = await _seed(engine, _tag(), 120)
    nurture = Nurture(default_nurture(), ("rep@x.example",), ("x.example",))
    producer = make_producer(settings)
    await producer.start()
    other = create_engine(settings.resolved_database_url)
    try:
        a = Scheduler(engine, producer, nurture, "a", lambda: NOW, batch=7)
        b = Scheduler(other, producer, nurture, "b", lambda: NOW, batch=7)
        for _ in range(30):
            claimed = await asyncio.gather(a.dispatch_due(), b.dispatch_due())
            if claimed == (0, 0):
                break
    finally:
        await other.dispose()
        await producer.stop()
    ids = {f"t_{c}" for c in people}
    counts = await _dispatched(settings.bootstrap_servers, ids)
    assert set(counts) == ids and set(counts.values()) == {1}
    assert a.dispatched + b.dispatched == len(ids)
    async with engine.connect() as conn:
        statuses = set(await conn.scalars(select(touches.c.status).where(touches.c.id.in_(ids))))
    assert statuses == {"dispatched"}


async def test_two_schedulers_never_send_one_account_more_than_its_daily_cap(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    """Each instance counts the account's touches before sending; without serialising those
    counts per account, both saw 2 of 3 and both sent (4 > 3, found by the QA audit)."""
    tag = _tag()
    people = await _seed(engine, tag, 8)
    account = f"a_{tag}_shared"
    async with engine.begin() as conn:
        await conn.execute(update(contacts).where(contacts.c.id.in_(people)).values(
            account_id=account))  # fmt: skip
        await conn.execute(update(touches).where(touches.c.contact_id.in_(people)).values(
            account_id=account))  # fmt: skip
    nurture = Nurture(default_nurture(), ("rep@x.example",), ("x.example",))
    cap = nurture.config.caps.account_per_day
    assert cap is not None and cap < len(people)
    producer = make_producer(settings)
    await producer.start()
    other = create_engine(settings.resolved_database_url)
    try:
        a = Scheduler(engine, producer, nurture, "a", lambda: NOW, batch=1)
        b = Scheduler(other, producer, nurture, "b", lambda: NOW, batch=1)
        for _ in range(len(people) + 2):
            if await asyncio.gather(a.dispatch_due(), b.dispatch_due()) == [0, 0]:
                break
    finally:
        await other.dispose()
        await producer.stop()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(touches.c.status, touches.c.reason).where(
            touches.c.contact_id.in_(people)))).all()  # fmt: skip
    assert Counter(status for status, _ in rows) == {"dispatched": cap, "planned": 8 - cap}
    assert {reason for status, reason in rows if status == "planned"} == {"ACCOUNT_CAP"}
    assert a.dispatched + b.dispatched == cap


async def test_consent_withdrawn_after_planning_skips_the_touch_and_never_publishes_it(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    tag = _tag()
    kept, withdrawn = await _seed(engine, tag, 2)
    async with engine.begin() as conn:
        await consent_store.append(conn, [consent_store.LedgerRow(ConsentEntry(
            withdrawn, Channel.EMAIL, ConsentStatus.WITHDRAWN, "preference_center", "",
            NOW - timedelta(minutes=5)), None)])  # fmt: skip
    producer = make_producer(settings)
    await producer.start()
    try:
        sched = Scheduler(engine, producer, Nurture(default_nurture()), "s", lambda: NOW)
        assert await sched.dispatch_due() == 2
    finally:
        await producer.stop()
    records = await read_topic(
        settings.bootstrap_servers, TOUCHES,
        lambda rs: any(orjson.loads(r.value)["touch_id"] == f"t_{kept}" for r in rs))  # fmt: skip
    assert f"t_{withdrawn}" not in {orjson.loads(r.value)["touch_id"] for r in records}
    async with engine.connect() as conn:
        row = (await conn.execute(select(touches).where(touches.c.id == f"t_{withdrawn}"))).one()
        why = await conn.scalar(
            select(decisions.c.reason).where(decisions.c.touch_id == f"t_{withdrawn}")
        )
    assert (row.status, row.reason, why) == ("skipped", "NO_CONSENT", "NO_CONSENT")


async def test_a_touch_in_quiet_hours_is_deferred_to_the_next_window_not_dropped(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    (person,) = await _seed(engine, _tag(), 1)
    night = datetime(2026, 11, 18, 23, 0, tzinfo=UTC)
    producer = make_producer(settings)
    await producer.start()
    try:
        sched = Scheduler(engine, producer, Nurture(default_nurture()), "s", lambda: night)
        await sched.dispatch_due()
    finally:
        await producer.stop()
    async with engine.connect() as conn:
        row = (await conn.execute(select(touches).where(touches.c.id == f"t_{person}"))).one()
    assert (row.status, row.reason) == ("planned", "QUIET_HOURS")
    assert row.due_at == datetime(2026, 11, 19, 8, 0, tzinfo=UTC)


def _event(tag: str, i: int, who: str, kind: str, props: dict[str, Any]) -> bytes:
    return orjson.dumps({
        "id": f"{tag}-{i}", "type": kind, "source": "test",
        "time": (NOW - timedelta(minutes=30 - i)).isoformat(),
        "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@{tag}.example",
                    "traits": {"role": "technical"}},
        "account": {"external_id": f"acc-{tag}", "domain": f"{tag}.example"},
        "properties": props,
    })  # fmt: skip


async def test_a_new_contact_gets_its_stage_sequence_planned_once_and_a_demo_request_calls_the_rep(
    settings: TrellisSettings, engine: AsyncEngine
) -> None:
    own = OrchestratorSettings(
        **settings.model_dump(),
        orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_rep_pool="rep1@x.example,rep2@x.example",
        orchestrator_scheduler_interval_s=0.2,
    )
    await ensure_topics(own)
    stop = asyncio.Event()
    task = asyncio.create_task(run(own, stop, clock=lambda: NOW))
    tag = _tag()
    try:
        first = _event(tag, 0, "ana", "page_viewed", {"path": "/blog"})
        optin = _event(tag, 2, "ana", "consent_given",
                       {"channel": "email", "method": "form", "form": "newsletter"})  # fmt: skip
        await produce(
            own.bootstrap_servers, ENGAGEMENT, [(b"k", optin), (b"k", first), (b"k", first)]
        )

        ana = select(contacts.c.id).where(contacts.c.email == f"ana@{tag}.example")

        async def planned() -> list[str]:
            async with engine.connect() as conn:
                found = select(touches.c.sequence_step).where(touches.c.contact_id.in_(ana))
                return list(await conn.scalars(found))

        steps = await eventually(planned, lambda s: len(s) == 3)
        assert sorted(steps) == sorted(
            f"awareness-education/{s}"
            for s in ("problem-framing", "industry-report", "how-others-solve")
        )
        demo = _event(tag, 1, "ana", "demo_requested", {})
        await produce(own.bootstrap_servers, ENGAGEMENT, [(b"k", demo)])

        async def reminder_rows() -> list[Any]:
            async with engine.connect() as conn:
                return list(await conn.execute(select(reminders).where(
                    reminders.c.contact_id.in_(ana), reminders.c.reason == "demo_requested",
                    reminders.c.rep.in_(["rep1@x.example", "rep2@x.example"]))))  # fmt: skip

        (mine,) = await eventually(reminder_rows, lambda rs: len(rs) == 1)
        assert mine.status == "open" and mine.talking_points
        assert [e["said"] for e in mine.evidence] == ["requested a demo"]
        records = await read_topic(
            own.bootstrap_servers, REMINDERS,
            lambda rs: any(orjson.loads(r.value)["touch_id"] == mine.id for r in rs))  # fmt: skip
        (cmd,) = [c for r in records if (c := orjson.loads(r.value))["touch_id"] == mine.id]
        assert cmd["channel"] == "rep_call_reminder" and cmd["to"] == mine.rep
        assert cmd["variables"]["reason"] == "demo_requested"
        assert cmd["variables"]["contact"]["email"] == f"ana@{tag}.example"  # for the template
        assert cmd["variables"]["rep"]["email"] == mine.rep
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
