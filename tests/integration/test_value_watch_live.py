"""The time-to-value watch through the real broker and orchestrator, on SQLite and PostgreSQL,
with the orchestrator's clock moved by the test: an account with no activation by day 14 gets
exactly one at-risk reminder, delivered on trellis.reminders.v1 with its evidence, and none
after its activation; an account activated before day 14 gets none; an account whose usage
falls gets exactly one churn-risk reminder however often the clock looks again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT, REMINDERS
from services.orchestrator.adapters.tables import accounts, inbox, reminders
from services.orchestrator.adapters.value_watch_store import value_watches
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.test_simulate_equals_live import Clock
from tests.probes import eventually, produce, read_topic
from trellis.broker import EmbeddedBroker
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

START = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # a Monday; day 14 is one too
REP, REP_DOMAIN = "csm@reps.example", "reps.example"


def _event(tag: str, n: int, account: str, kind: str, day: float, **props: Any) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"{tag}-{account}-{n}", "type": kind, "source": "test",
        "time": (START + timedelta(days=day)).isoformat(),
        "contact": {"external_id": f"{tag}-{account}-ana", "email": f"ana@{account}-{tag}.example",
                    "traits": {"role": "manager", "timezone": "UTC", "first_name": "Ana"}},
        "account": {"external_id": f"{tag}-{account}", "domain": f"{account}-{tag}.example"},
        "properties": props,
    })  # fmt: skip


async def _scalar(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(query)


async def _send(engine: AsyncEngine, bootstrap: str, events: list[EngagementEvent]) -> None:
    keyed: list[tuple[bytes | None, bytes]] = [
        (e.partition_key().encode(), e.model_dump_json().encode()) for e in events
    ]
    await produce(bootstrap, ENGAGEMENT, keyed)
    seen = (
        select(func.count()).select_from(inbox).where(inbox.c.event_id.in_([e.id for e in events]))
    )
    await eventually(lambda: _scalar(engine, seen), lambda n: n == len(events), 60)


async def _reminded(engine: AsyncEngine, account: str, reason: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(reminders).where(reminders.c.account_id == account, reminders.c.reason == reason)
        )
        return list(rows)


async def _looked_at(engine: AsyncEngine, account: str, clock: Clock) -> None:
    """Until the clock's pass has saved the account's watch at the clock's time."""
    at = select(value_watches.c.updated_at).where(value_watches.c.account_id == account)

    def seen(value: datetime | None) -> bool:
        return value is not None and value.replace(tzinfo=value.tzinfo or UTC) >= clock.now

    await eventually(lambda: _scalar(engine, at), seen, 30)


async def test_no_activation_by_day_14_and_a_usage_drop_each_remind_the_csm_exactly_once(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex[:6]
    live = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap, orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_scheduler_interval_s=0.05, ops_serve=False,
        orchestrator_rep_pool=REP, rep_domains=REP_DOMAIN, orchestrator_redispatch_after_s=1e9,
    )  # fmt: skip
    await ensure_topics(live, partitions=1)
    boot, clock, stop = isolated_broker.bootstrap, Clock(START), asyncio.Event()
    task = asyncio.create_task(run(live, stop, clock))
    try:
        won = [_event(tag, 0, a, "deal_closed_won", 0, deal_id=f"d-{a}", amount=9000)
               for a in ("late", "early", "busy")]  # fmt: skip
        await _send(engine, boot, [*won, _event(tag, 1, "late", "seats_changed", 0, seats=12)])
        ids = {
            name: await _scalar(engine, select(accounts.c.id).where(
                accounts.c.domain == f"{name}-{tag}.example"))
            for name in ("late", "early", "busy")
        }  # fmt: skip
        clock.now = START + timedelta(days=13)
        used = [_event(tag, 10 + d * 4 + i, "busy", "feature_used", d + i / 4)
                for d in range(1, 14) for i in range(2)]  # fmt: skip
        activated = [_event(tag, 2, "early", "product_activated", 5),
                     _event(tag, 2, "busy", "product_activated", 1)]  # fmt: skip
        await _send(engine, boot, [*activated, *used])

        clock.now = START + timedelta(days=14)  # day 14: "late" has not activated
        rows = await eventually(lambda: _reminded(engine, ids["late"], "early_churn_risk"),
                                lambda rs: len(rs) == 1, 30)  # fmt: skip
        (late,) = rows
        assert late.rep == REP  # no success-team owner: the pool, as every rep reminder
        said = [line["said"] for line in late.evidence]
        assert "has not activated the product 14 days later" in said[0]
        assert "Seats: 12 (as of 01 Jun 2026)" in said
        # delivered on the reminders topic, the evidence in its content
        records = await read_topic(boot, REMINDERS, lambda rs: any(
            orjson.loads(r.value)["touch_id"] == late.id for r in rs), 30)  # fmt: skip
        sent = [orjson.loads(r.value) for r in records]
        (told,) = [s for s in sent if s["touch_id"] == late.id]
        assert told["to"] == REP and told["template_id"] == "reminders/early_churn_risk"
        assert "Seats: 12" in orjson.dumps(told["variables"]).decode()

        await _send(engine, boot, [_event(tag, 3, "late", "product_activated", 14.5)])
        clock.now = START + timedelta(days=30)
        used = [_event(tag, 10 + d * 4 + i, "busy", "feature_used", d + i / 4)
                for d in range(14, 31) for i in range(2)]  # fmt: skip
        await _send(engine, boot, used)  # 2 a day for 30 days, then nothing
        for day in (40, 52, 56, 60):  # the fall shows from day 50
            clock.now = START + timedelta(days=day)
            await _looked_at(engine, ids["busy"], clock)
        churn = await _reminded(engine, ids["busy"], "churn_risk")
        assert len(churn) == 1 and "usage fell" in churn[0].evidence[0]["said"]
        assert len(await _reminded(engine, ids["late"], "early_churn_risk")) == 1
        assert not await _reminded(engine, ids["early"], "early_churn_risk")
        assert not await _reminded(engine, ids["busy"], "early_churn_risk")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
