"""`trellis demo` with `trellis dev`'s plan hands accounts to a sales and a success team and
breaches: the demo world simulated with the dev plan (the live handlers on the in-memory unit of
work, as the stack runs them) makes CSM kickoffs for its closed-won accounts, owned by the CSM
its CRM names or the team's round-robin; nobody in the demo books the meeting or holds the
kickoff, so the minute-long dev SLAs breach and escalate to the leads; simulate reports the
handoff KPIs; and those handoffs, stored in the handoffs table (SQLite and PostgreSQL), lead
the dashboard's handoff board as breaches."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import yaml
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from console.dev_plan import DEV_REP, DEV_REP_DOMAIN, dev_plan
from schemas.events import EngagementEvent
from services.orchestrator.adapters.nurture_file import parse_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.domain.handoffs import HandoffKind
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.simulate import simulate_async
from tests.handoff_history import store_handoffs
from trellis.demo import shifted_world
from trellis.demo_world import DEMO_CSMS, DEMO_REPS

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


async def test_the_demo_hands_over_to_sales_and_success_and_the_board_shows_breaches(
    engine: AsyncEngine, database_url: str
) -> None:
    plan = parse_nurture(yaml.safe_dump(dev_plan()).encode())
    assert set(plan.teams) == {"sales", "success"}
    world = [EngagementEvent.model_validate(e) for e in shifted_world(24, 1, 60, NOW)]
    result = await simulate_async(
        world, default_playbook(), nurture=plan, horizon=timedelta(hours=1), reps=(DEV_REP,),
        rep_domains=(DEV_REP_DOMAIN,),
    )  # fmt: skip
    assert result.world is not None
    made = list(result.world.handoffs.stored.values())
    won = {e.account.external_id for e in world if e.type == "deal_closed_won" and e.account}
    kickoffs = [h for h in made if h.kind is HandoffKind.CSM_KICKOFF]
    assert won and len(kickoffs) == len(won)  # one CSM handoff per closed-won account
    csms = {c.email for c in DEMO_CSMS}
    assert {h.owner for h in kickoffs} <= csms and {h.team for h in kickoffs} == {"success"}
    assert {h.kind for h in made} >= {HandoffKind.SQL_FIRST_CONTACT, HandoffKind.CSM_KICKOFF}
    breached = [h for h in made if h.breached_at is not None and h.completed_at is None]
    assert any(h.kind is HandoffKind.CSM_KICKOFF for h in breached)
    leads = {DEMO_REPS[0].email, DEMO_CSMS[0].email}
    escalated = [h for h in made if h.escalated_at is not None]
    everyone = leads | csms | {r.email for r in DEMO_REPS}
    assert escalated and {h.escalated_to for h in escalated} <= everyone
    # simulate's KPIs: the success team missed what it never kicked off
    assert result.kpis["handoff breaches success"] == float(
        sum(1 for h in kickoffs if h.breached_at is not None)
    )
    attainment = result.kpis["handoff SLA attainment success"]
    assert attainment is not None and attainment < 1.0

    await store_handoffs(engine, made)
    async with engine.begin() as conn:
        secret = (await issue_key(conn, Scope.READ, NOW, rep=None)).secret
    app = FastAPI()
    settings = OrchestratorSettings(env="test", database_url=database_url)
    later = NOW + timedelta(hours=2)
    app.include_router(dashboard_router(engine, settings, clock=lambda: later))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ui.test",
        cookies={"trellis_ui_key": secret},
    ) as ui:  # fmt: skip
        html = (await ui.get("/ui/handoffs")).text
    states = re.findall(r'data-state="(\w+)"', html)
    open_now = [h for h in made if h.completed_at is None]
    assert len(states) == len(open_now) and {"breached", "escalated"} & set(states)
    breaches = [s for s in states if s != "open"]
    assert states[: len(breaches)] == breaches  # breaches first
    assert "customer kickoff" in html and "overdue" in html
