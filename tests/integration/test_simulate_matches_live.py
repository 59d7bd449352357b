"""`trellis simulate` reproduces what the live orchestrator decides on the same events."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import accounts, contacts, inbox
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.simulate import simulate_async
from tests.probes import eventually, produce
from trellis.broker import EmbeddedBroker
from trellis.demo_world import build_world
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return len((await conn.execute(select(inbox.c.event_id))).all())


async def test_simulated_stages_equal_the_live_stages_for_a_demo_world(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine
) -> None:
    world = build_world(60, seed=11, start=datetime(2026, 6, 1, tzinfo=UTC))
    live = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap,
        orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_max_batch=97,  # live batches differ from the simulation's on purpose
    )
    await ensure_topics(live, partitions=3)
    parsed = [EngagementEvent.model_validate(e) for e in world]
    await produce(
        live.bootstrap_servers,
        ENGAGEMENT,
        [(e.partition_key().encode(), orjson.dumps(w)) for e, w in zip(parsed, world, strict=True)],
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run(live, stop))
    try:
        await eventually(lambda: _count(engine), lambda n: n == len(world), deadline_s=90)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    sim = await simulate_async(parsed, default_playbook(), batch_size=250)
    async with engine.connect() as conn:
        live_contacts = Counter(r[0] for r in await conn.execute(select(contacts.c.stage)))
        live_accounts = Counter(r[0] for r in await conn.execute(select(accounts.c.stage)))
    assert sim.events == len(world)
    assert dict(live_contacts) == dict(sim.contact_stages)
    assert dict(live_accounts) == dict(sim.account_stages)
    assert len(sim.contact_stages) >= 5, "the world must exercise most of the funnel"
