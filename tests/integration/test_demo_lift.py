"""``trellis demo``'s world through the real broker and orchestrator, on both databases: the ops
API reads the revenue KPIs from the facts the orchestrator kept, and with ``trellis dev``'s plan
(half held out of ``mql-proof`` and of ``engaged-technical``) measures a lift for ``mql-proof``
and none for ``engaged-technical``, from the stage history the
orchestrator wrote and the plan's holdout hash (the demo world computes membership from the
external ids through ``console.demo_lift``: it must match the orchestrator's ids)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from console.demo_lift import plan_held_out
from console.dev_plan import dev_plan
from services.orchestrator.adapters.nurture_file import parse_nurture
from services.orchestrator.main import run
from services.orchestrator.ops.app import OpsServer, create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.e2e.test_dashboard_browser import _orchestrate
from trellis.broker import EmbeddedBroker, free_port
from trellis.demo import shifted_world
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

ACCOUNTS, SEED = 400, 11


async def test_the_demo_world_shows_one_sequence_lifting_and_one_not_in_the_ops_api(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine, tmp_path: Path
) -> None:
    plan_text = yaml.safe_dump(dev_plan())
    (tmp_path / "plan.yaml").write_text(plan_text)
    now = datetime.now(UTC)
    own = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap, orchestrator_group=f"orc-{uuid.uuid4().hex}",
        nurture=tmp_path / "plan.yaml", ops_serve=False,
    )  # fmt: skip
    await ensure_topics(own, partitions=3)
    held = plan_held_out(parse_nurture(plan_text.encode()))
    world = shifted_world(ACCOUNTS, SEED, 30, now, held)
    stop = asyncio.Event()
    orchestrator = asyncio.create_task(run(own, stop, lambda: now))
    try:
        await _orchestrate(own, engine, world)  # sent, and each applied once
    finally:
        stop.set()
        await asyncio.wait_for(orchestrator, 30)
    async with engine.begin() as conn:
        key = (await issue_key(conn, Scope.READ, now, name="read")).secret
    port = free_port()
    server = OpsServer(create_ops_app(engine, own, lambda: now), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            since = (now - timedelta(days=31)).isoformat()
            reply = await http.get(
                "/v1/funnel", params={"since": since, "until": now.isoformat()},
                headers={"Authorization": f"Bearer {key}"},
            )  # fmt: skip
    finally:
        await server.stop()
    assert reply.status_code == 200, reply.text
    body = reply.json()
    lift = {x["sequence"]: x["to_next"] for x in body["lift"]}
    lifted, flat = lift["mql-proof"], lift["engaged-technical"]
    print("mql-proof", lifted, "engaged-technical", flat)  # the figures, for the record
    assert lifted["lifts"] is True and lifted["difference"] > 0.2
    assert flat["lifts"] is False and flat["ci95"][0] < 0 < flat["ci95"][1]
    assert min(lifted["treated"]["people"], lifted["held_out"]["people"]) >= 30
    # the revenue facts the orchestrator kept: deals in EUR and USD, never summed
    revenue = body["revenue"]
    print("revenue", revenue["pipeline"]["value"], revenue["deals"], revenue["retention"])
    deals = [e["properties"] for e in world if e["type"] == "deal_created"]
    open_or_closed = revenue["deals"]["closed"] + revenue["pipeline"]["open_deals"]
    assert open_or_closed == len(deals)
    assert set(revenue["pipeline"]["value"]) <= {"EUR", "USD"} and revenue["deals"]["won"] > 0
    assert revenue["nps"]["answers"] > 0
