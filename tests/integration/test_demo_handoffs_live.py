"""`trellis demo` through the real broker and orchestrator with `trellis dev`'s plan, on SQLite
and PostgreSQL, the orchestrator's clock moved by the test: the demo world's accounts are handed
to the sales and success teams as they arrive (one CSM kickoff per closed-won account); minutes
later, with nobody booking a meeting or holding a kickoff, the clock breaches them and then
escalates them, and the dashboard's handoff board and GET /v1/funnel/handoffs show it."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from console.dev_plan import DEV_REP, DEV_REP_DOMAIN, write_dev_plan
from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.handoff_tables import handoffs
from services.orchestrator.adapters.tables import inbox
from services.orchestrator.main import run
from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.test_simulate_equals_live import Clock
from tests.probes import eventually, produce
from trellis.broker import EmbeddedBroker
from trellis.demo import shifted_world
from trellis.demo_world import DEMO_CSMS
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


async def _scalar(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(query)


def _count(*where: Any) -> Any:
    return select(func.count()).select_from(handoffs).where(*where)


async def test_the_demo_world_live_breaches_and_the_board_shows_it(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine,
    tmp_path: Path,
) -> None:  # fmt: skip
    live = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap, orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_scheduler_interval_s=0.05, ops_serve=False, nurture=write_dev_plan(tmp_path),
        orchestrator_rep_pool=DEV_REP, rep_domains=DEV_REP_DOMAIN,
        orchestrator_redispatch_after_s=1e9,
    )  # fmt: skip
    await ensure_topics(live, partitions=1)
    tag = uuid.uuid4().hex[:6]
    world = shifted_world(10, 3, 30, NOW)  # 10 accounts, 4 of them closed-won
    for e in world:
        e["id"] = f"{tag}-{e['id']}"
    events = [EngagementEvent.model_validate(e) for e in world]
    won = sum(1 for e in events if e.type == "deal_closed_won")
    clock, stop = Clock(NOW), asyncio.Event()
    task = asyncio.create_task(run(live, stop, clock))
    try:
        await produce(isolated_broker.bootstrap, ENGAGEMENT, [
            (e.partition_key().encode(), e.model_dump_json().encode()) for e in events
        ])  # fmt: skip
        seen = select(func.count()).select_from(inbox).where(
            inbox.c.event_id.in_([e.id for e in events]))  # fmt: skip
        await eventually(lambda: _scalar(engine, seen), lambda n: n == len(events), 120)
        kickoffs = handoffs.c.kind == "csm_kickoff"
        assert await _scalar(engine, _count(kickoffs)) == won
        owners = {o for (o,) in (await _rows(engine, select(handoffs.c.owner).where(kickoffs)))}
        assert owners <= {c.email for c in DEMO_CSMS}
        assert await _scalar(engine, _count(handoffs.c.breached_at.is_not(None))) == 0

        clock.now = NOW + timedelta(minutes=8)  # past every deadline (3 and 6 minutes)
        is_open = handoffs.c.completed_at.is_(None)
        still_open = await _scalar(engine, _count(is_open))
        assert still_open > 0
        breached = _count(is_open, handoffs.c.breached_at.is_not(None))
        await eventually(lambda: _scalar(engine, breached), lambda n: n == still_open, 60)
        clock.now = NOW + timedelta(minutes=20)  # and 3 minutes after: to the leads
        escalated = _count(is_open, handoffs.c.escalated_at.is_not(None))
        await eventually(lambda: _scalar(engine, escalated), lambda n: n == still_open, 60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    async with engine.begin() as conn:
        secret = (await issue_key(conn, Scope.READ, NOW, rep=None)).secret
    app = create_ops_app(engine, live, clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ops.test",
        cookies={"trellis_ui_key": secret}, headers={"Authorization": f"Bearer {secret}"},
    ) as http:  # fmt: skip
        board = (await http.get("/ui/handoffs")).text
        kpis = (await http.get("/v1/funnel/handoffs")).json()
    states = re.findall(r'data-state="(\w+)"', board)
    assert states == ["escalated"] * still_open  # every open one, each past its deadline
    assert "customer kickoff" in board and "overdue" in board
    success = next(t for t in kpis["teams"] if t["team"] == "success")
    assert success["escalations"] >= 1 and success["attainment"] == 0.0
    assert kpis["overall"]["breaches"] == kpis["overall"]["escalations"] >= still_open


async def _rows(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(query))
