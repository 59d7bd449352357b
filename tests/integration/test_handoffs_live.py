"""Handoffs through the real broker and a running orchestrator (its consumer and scheduler), on
SQLite and PostgreSQL: a closed-won account gives its CSM exactly one handoff naming the buying
committee and the deal (and the reminder reaches ``trellis.reminders.v1``); an SQL nobody takes
is breached, then escalated to the team lead once, due in the lead's working hours. The same
history through ``trellis simulate`` makes the same handoffs with the same clock times."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT, REMINDERS
from services.orchestrator.adapters.handoff_tables import handoffs
from services.orchestrator.adapters.nurture_file import default_nurture, load_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import decisions, inbox, reminders, touches
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.simulate import simulate_async
from tests.integration.test_simulate_equals_live import Clock, _utc
from tests.probes import eventually, produce, read_topic
from trellis.broker import EmbeddedBroker
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")
TEAMS = {
    "sales": {"lead": "lee@co.example", "members": {
        "lee@co.example": {"timezone": "Asia/Tokyo", "capacity": 0},
        "dana@co.example": {"timezone": "Europe/London"},
    }},
    "success": {"lead": "sam@co.example", "members": {
        "sam@co.example": {"timezone": "Europe/Berlin", "capacity": 0},
        "cara@co.example": {"timezone": "Europe/Berlin"},
    }},
}  # fmt: skip


def _plan(tmp_path: Path) -> Path:
    plan = default_nurture().model_dump(mode="json", exclude={"reps"}) | {"teams": TEAMS}
    path = tmp_path / "nurture.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def _event(
    tag: str, n: int, kind: str, at: datetime, who: str, role: str, **props: Any
) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"{tag}-{n}", "type": kind, "source": "test", "time": at.isoformat(),
        "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@acme-{tag}.example",
                    "traits": {"role": role, "name": who.title(), "timezone": "Europe/London"}},
        "account": {"external_id": f"{tag}-acme", "domain": f"acme-{tag}.example"},
        "properties": props,
    })  # fmt: skip


@asynccontextmanager
async def _orchestrator(
    settings: TrellisSettings, broker: EmbeddedBroker, plan: Path, clock: Clock
) -> AsyncIterator[OrchestratorSettings]:
    live = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=broker.bootstrap, orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_scheduler_interval_s=0.05, ops_serve=False, nurture=plan,
        rep_domains="co.example", orchestrator_redispatch_after_s=1e9,
    )  # fmt: skip
    await ensure_topics(live, partitions=1)
    stop = asyncio.Event()
    task = asyncio.create_task(run(live, stop, clock))
    try:
        yield live
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _count(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(query)


async def _send(
    engine: AsyncEngine, live: OrchestratorSettings, clock: Clock, events: Sequence[EngagementEvent]
) -> None:
    clock.now = events[-1].time
    key = events[-1].partition_key().encode()
    await produce(live.bootstrap_servers, ENGAGEMENT,
                  [(key, e.model_dump_json().encode()) for e in events])  # fmt: skip
    ids = [e.id for e in events]
    seen = select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
    await eventually(lambda: _count(engine, seen), lambda n: n == len(events), 60)


async def _rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(handoffs).order_by(handoffs.c.created_at)))


async def test_a_closed_won_account_gives_its_csm_exactly_one_handoff_with_committee_and_deal(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    tag, clock = uuid.uuid4().hex[:6], Clock(TUESDAY_10)
    won = _event(tag, 3, "deal_closed_won", TUESDAY_10 + timedelta(hours=1), "ana", "manager",
                 deal_id="D-7", amount=48000, currency="EUR", products=["Core", "SSO"],
                 promised_outcomes=["Onboard 3 teams in 30 days"])  # fmt: skip
    async with _orchestrator(settings, isolated_broker, _plan(tmp_path), clock) as live:
        await _send(engine, live, clock, [
            _event(tag, 0, "crm_owner_changed", TUESDAY_10, "ana", "manager", owner_id="crm-9",
                   owner_email="dana@co.example"),
            _event(tag, 1, "webinar_attended", TUESDAY_10, "ana", "manager", topic="ROI"),
            _event(tag, 2, "content_downloaded", TUESDAY_10, "ben", "technical",
                   title="Security whitepaper"),
        ])  # fmt: skip
        await _send(engine, live, clock, [won])
        await _send(engine, live, clock, [won.model_copy(update={"id": f"{tag}-4"})])  # again
        (h,) = await eventually(lambda: _rows(engine), lambda rows: len(rows) == 1, 30)
        async with engine.connect() as conn:
            mine = reminders.c.id == h.reminder_id
            note = (await conn.execute(select(reminders).where(mine))).one()
        records = await read_topic(
            live.bootstrap_servers, REMINDERS,
            lambda rs: any(orjson.loads(r.value)["touch_id"] == h.reminder_id for r in rs),
        )  # fmt: skip
    assert (h.kind, h.team, h.owner) == ("csm_kickoff", "success", "cara@co.example")
    assert h.previous_owner == "dana@co.example"  # the sales owner the account had
    told = " | ".join(item["said"] for item in note.evidence)
    needles = ("48,000 EUR", "Core, SSO", "Onboard 3 teams", "Ana (manager)", "Ben (technical)",
               "Security whitepaper", "Handed over by dana@co.example")  # fmt: skip
    for needle in needles:
        assert needle in told, needle
    (cmd,) = [c for r in records if (c := orjson.loads(r.value))["touch_id"] == h.reminder_id]
    assert cmd["to"] == "cara@co.example" and cmd["template_id"] == "reminders/handoff_csm_kickoff"
    owners = cmd["variables"]["account"]["owners"]  # every reminder names them
    assert "cara@co.example (success" in owners and "dana@co.example (sales)" in owners
    told_dana = (
        select(func.count())
        .select_from(reminders)
        .where(reminders.c.reason == "handoff_taken_over", reminders.c.rep == "dana@co.example")
    )
    assert await _count(engine, told_dana) == 1


async def _step_to(engine: AsyncEngine, clock: Clock, at: datetime, done: Any) -> None:
    clock.now = at
    await eventually(lambda: _count(engine, done), lambda n: n == 1, 30)


async def test_an_sql_nobody_takes_escalates_to_the_lead_once_in_the_leads_hours(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    tag, clock, plan = uuid.uuid4().hex[:6], Clock(TUESDAY_10), _plan(tmp_path)
    demo = _event(tag, 1, "demo_requested", TUESDAY_10, "eve", "manager")
    async with _orchestrator(settings, isolated_broker, plan, clock) as live:
        await _send(engine, live, clock, [demo])
        (h,) = await eventually(lambda: _rows(engine), lambda rows: len(rows) == 1, 30)
        deadline, escalate = _utc(h.deadline_at), _utc(h.escalate_at)
        assert deadline is not None and escalate is not None
        count = select(func.count()).select_from(handoffs)
        breached = count.where(handoffs.c.breached_at.is_not(None))
        escalated = count.where(handoffs.c.escalated_at.is_not(None))
        await _step_to(engine, clock, deadline, breached)
        await _step_to(engine, clock, escalate, escalated)
        clock.now = escalate + timedelta(days=3)  # the clock runs on: nothing more
        await asyncio.sleep(0.5)
        async with engine.connect() as conn:
            (h,) = list(await conn.execute(select(handoffs)))
            escalations = reminders.c.reason == "handoff_escalated"
            (esc,) = list(await conn.execute(select(reminders).where(escalations)))
            kinds = decisions.c.kind.in_(["handoff_breached", "handoff_escalated"])
            steps = [r.reason for r in await conn.execute(select(decisions).where(kinds))]
            breach = touches.c.template_id == "reminders/handoff_breached"
            breach_touch = (await conn.execute(select(touches).where(breach))).one()
    assert (h.kind, h.owner) == ("sql_first_contact", "dana@co.example")
    assert h.escalated_to == "lee@co.example"
    assert deadline == TUESDAY_10 + timedelta(hours=4)  # 4 working hours in London
    assert (_utc(h.breached_at), _utc(h.escalated_at)) == (deadline, escalate)
    assert sorted(steps) == ["SLA_BREACHED", "SLA_ESCALATED"]  # each once
    assert breach_touch.sequence_step.endswith(h.reminder_id)  # acknowledging it takes the handoff
    due = _utc(esc.due_at)
    assert esc.rep == "lee@co.example" and due is not None
    window = load_nurture(plan).window_for(TouchChannel.REP_CALL_REMINDER)
    assert window.contains(due, TOKYO) and due == datetime(2026, 12, 2, 8, 30, tzinfo=TOKYO)

    sim = await simulate_async(
        [demo], default_playbook(), batch_size=1, nurture=load_nurture(plan),
        horizon=timedelta(days=3), rep_domains=("co.example",),
    )  # fmt: skip
    assert sim.world is not None
    (s,) = sim.world.handoffs.stored.values()
    simulated = (s.id, s.owner, s.deadline_at, s.breached_at, s.escalated_at, s.escalated_to)
    assert simulated == (h.id, h.owner, deadline, deadline, escalate, h.escalated_to)
