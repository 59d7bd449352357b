"""The account's owners per team and its handoffs over the ops API (real HTTP, SQLite and
PostgreSQL): owners now and before, and acknowledging the rep's call reminder for the demo
request through the API takes the SQL handoff too, so its clock never breaches it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.handoff_tables import handoffs
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.tables import reminders
from services.orchestrator.application.handoff_clock import handle_handoff_clock
from services.orchestrator.domain.handoffs import TeamConfig, TeamMember
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops.auth import Scope
from services.orchestrator.people import Nurture
from tests.integration.ops_client import ops_client
from tests.probes import StoredRecord

TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEAMS = {
    "sales": TeamConfig(members={"dana@co.example": TeamMember(timezone="Europe/London")}),
    "success": TeamConfig(lead="sam@co.example", members={
        "sam@co.example": TeamMember(), "cara@co.example": TeamMember()}),
}  # fmt: skip
CONFIG = default_nurture().model_copy(update={"teams": TEAMS})
PLAN = Nurture(CONFIG.model_validate(CONFIG.model_dump()), (), ("co.example",))


async def _apply(engine: AsyncEngine, tag: str, n: int, kind: str, **props: Any) -> None:
    at = TUESDAY_10 + timedelta(minutes=n)
    value = orjson.dumps({
        "id": f"{tag}-{n}", "type": kind, "source": "test", "time": at.isoformat(),
        "contact": {"external_id": f"{tag}-ana", "email": f"ana@{tag}.example"},
        "account": {"external_id": f"{tag}-acme", "domain": f"{tag}.example"},
        "properties": props,
    })  # fmt: skip
    record = StoredRecord("trellis.engagement.v1", 0, n, value)
    await apply_engagement([record], engine, default_playbook(), lambda: at, nurture=PLAN)


async def test_owners_now_and_before_and_an_acknowledged_handoff_never_breaches(
    engine: AsyncEngine, database_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    await _apply(engine, tag, 1, "demo_requested")  # SQL: handed to dana (the only seller)
    await _apply(engine, tag, 2, "crm_owner_changed", owner_id="s1", owner_email="cara@co.example",
                 team="success")  # fmt: skip
    await _apply(engine, tag, 3, "crm_owner_changed", owner_id="s2", owner_email="sam@co.example",
                 team="Success")  # fmt: skip
    async with engine.connect() as conn:
        (h,) = list(await conn.execute(select(handoffs)))
        demo = reminders.c.reason == "demo_requested"
        (call,) = list(await conn.execute(select(reminders.c.id, reminders.c.rep).where(demo)))
    assert call.rep == "dana@co.example"  # the same rep owns the lead and the call
    now = TUESDAY_10 + timedelta(hours=1)
    async with ops_client(engine, database_url, lambda: now, Scope.ADMIN) as http:
        before = (await http.get(f"/v1/accounts/{h.account_id}/owners")).json()
        acked = await http.post(f"/v1/reminders/{call.id}/acknowledge")  # the call, not the handoff
        after = (await http.get(f"/v1/accounts/{h.account_id}/owners")).json()
        missing = await http.get("/v1/accounts/nobody/owners")
    owners = {o["team"]: (o["owner"], o["previous_owner"], o["source"]) for o in before["owners"]}
    assert owners == {
        "sales": ("dana@co.example", None, "pool"),
        "success": ("sam@co.example", "cara@co.example", "crm"),
    }
    assert before["sales_owner"] == "dana@co.example"
    (shown,) = before["handoffs"]
    assert (shown["kind"], shown["owner"], shown["accepted_at"]) == (
        "sql_first_contact", "dana@co.example", None)  # fmt: skip
    assert acked.status_code == 200
    (taken,) = after["handoffs"]
    assert taken["accepted_at"] is not None and taken["completed_at"] is not None
    assert missing.status_code == 404
    async with SqlUnitOfWork.begin(engine) as uow:
        tick = await handle_handoff_clock(uow, PLAN, TUESDAY_10 + timedelta(days=7))
    assert (tick.breached, tick.escalated) == (0, 0)
