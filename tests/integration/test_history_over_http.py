"""History replayed through a producer's own pipeline (issue 22, item 1): a request marked
``Trellis-Historical: true`` on the native and Segment routes, through ingest, the real broker
and the orchestrator on SQLite and PostgreSQL, sets the stage a year-old demo request earns
and plans no touch and no reminder for it; an SDK key may not mark a request historical."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.settings import IngestSettings
from services.orchestrator.adapters.tables import contacts, decisions, reminders, touches
from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.ingest_server import add_source, basic, running_ingest
from tests.probes import eventually
from trellis.sources import SourceKind

PAST = {"trellis-historical": "true"}


async def _person(engine: AsyncEngine, email: str) -> dict[str, Any]:
    async def row() -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            query = select(contacts).where(contacts.c.email == email)
            return [dict(r._mapping) for r in await conn.execute(query)]

    return (await eventually(row, lambda rows: bool(rows) and rows[0]["stage"] == "sql"))[0]


async def _count(engine: AsyncEngine, contact_id: str) -> list[int]:
    async with engine.connect() as conn:
        return [
            int((await conn.execute(
                select(func.count()).select_from(t).where(t.c.contact_id == contact_id)
            )).scalar_one())
            for t in (touches, reminders)
        ]  # fmt: skip


async def test_a_request_marked_historical_sets_the_stage_and_plans_nothing(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    ingest = IngestSettings(**{**orchestrator.model_dump(), "kafka_idempotence": False})
    tag = uuid.uuid4().hex[:8]
    server = (await add_source(ingest, f"warehouse-{tag}", SourceKind.SERVER)).credential
    web = (await add_source(ingest, f"web-{tag}", SourceKind.SDK)).credential
    year_ago = datetime.now(UTC) - timedelta(days=365)
    native = {"events": [{
        "id": f"n-{tag}-{n}", "type": kind, "source": "warehouse",
        "time": (year_ago + timedelta(days=n)).isoformat(),
        "contact": {"email": f"ana@{tag}.example"}, "properties": props,
    } for n, (kind, props) in enumerate([("page_viewed", {"path": "/"}),
                                         ("demo_requested", {})])]}  # fmt: skip
    segment = {"batch": [
        {"type": "track", "event": "Demo Requested", "userId": f"bo-{tag}",
         "messageId": f"s-{tag}", "timestamp": year_ago.isoformat(),
         "context": {"traits": {"email": f"bo@{tag}.example"}}},
    ]}  # fmt: skip
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        refused = await http.post("/v1/events", json=native, headers={**basic(web), **PAST})
        unclear = await http.post(
            "/v1/events", json=native, headers={**basic(server), "trellis-historical": "maybe"}
        )
        sent = await http.post("/v1/events", json=native, headers={**basic(server), **PAST})
        replayed = await http.post("/v1/batch", json=segment, headers={**basic(server), **PAST})
    assert [refused.status_code, unclear.status_code] == [403, 400]
    assert [sent.status_code, replayed.status_code] == [202, 200], (sent.text, replayed.text)
    ana = await _person(engine, f"ana@{tag}.example")
    bo = await _person(engine, f"bo@{tag}.example")
    async with engine.connect() as conn:
        said = (await conn.execute(select(decisions.c.contact_id).where(
            decisions.c.reason == "historical",
            decisions.c.contact_id.in_([ana["id"], bo["id"]])))).all()  # fmt: skip
    assert sorted(c for (c,) in said) == sorted([ana["id"], bo["id"]])
    assert await _count(engine, ana["id"]) == [0, 0], "no touch, no rep reminder for the past"
    assert await _count(engine, bo["id"]) == [0, 0]

    async with engine.begin() as conn:
        admin = (await issue_key(conn, Scope.ADMIN, datetime.now(UTC))).secret
    transport = httpx.ASGITransport(app=create_ops_app(engine, orchestrator))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as http:
        page = await http.get(f"/ui/contacts/{ana['id']}", headers={
            "cookie": f"trellis_ui_key={admin}"})  # fmt: skip
    assert page.status_code == 200
    assert "Imported history (2 events," in page.text
