"""Late events never vanish (issue 22, item 2), through ingest, the real broker and the
orchestrator on SQLite and PostgreSQL: the Segment Spec's own identify example (2015) sent after
a current identify of the same user is answered 200, changes no stage and adds no second stage
entry, and is shown on the timeline (ops API and dashboard) at its own time, marked too late to
change the stage with the window and the newest time it was compared with; the funnel counts it
among its data-quality figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.settings import IngestSettings
from services.orchestrator.adapters.tables import contacts, decisions, stage_history
from services.orchestrator.ops.app import create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.ingest_server import add_source, basic, running_ingest
from tests.probes import eventually
from trellis.sources import SourceKind

SPEC_IDENTIFY = {  # https://github.com/segmentio/segment-docs src/connections/spec/identify.md
    "anonymousId": "507f191e810c19729de860ea", "channel": "browser",
    "context": {"ip": "8.8.8.8"}, "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z", "timestamp": "2015-02-23T22:28:55.111Z",
    "traits": {"name": "Peter Gibbons", "email": "peter@example.com", "plan": "premium",
               "logins": 5},
    "type": "identify", "userId": "97980cfea0067", "version": "1.1",
}  # fmt: skip


async def _rows(engine: AsyncEngine, query: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(query)]


async def test_an_event_beyond_the_window_is_kept_shown_and_counted_but_moves_no_stage(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    ingest = IngestSettings(**{**orchestrator.model_dump(), "kafka_idempotence": False})
    key = (await add_source(ingest, f"web-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    tag = uuid.uuid4().hex[:8]
    user, group = f"u-{tag}", f"acct-{tag}"
    newest = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    current = {
        "userId": user, "messageId": f"now-{tag}", "timestamp": newest.isoformat(),
        "traits": {"email": f"peter@{tag}.example"}, "context": {"groupId": group},
    }  # fmt: skip
    # the example as written, but for this run's user (the shared database knows the others)
    traits = {**SPEC_IDENTIFY["traits"], "email": f"peter@{tag}.example"}
    late = {**SPEC_IDENTIFY, "userId": user, "messageId": f"old-{tag}", "traits": traits,
            "anonymousId": f"anon-{tag}", "context": {"groupId": group}}  # fmt: skip
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        first = await http.post("/v1/identify", json=current, headers=basic(key))
        contact = await eventually(
            lambda: _rows(engine, select(contacts).where(contacts.c.external_id == user)),
            lambda rows: bool(rows) and rows[0]["stage"] is not None,
        )
        second = await http.post("/v1/identify", json=late, headers=basic(key))
    assert [first.status_code, second.status_code] == [200, 200], "accepted: 2xx"
    contact_id = contact[0]["id"]
    await eventually(
        lambda: _rows(engine, select(decisions).where(decisions.c.event_id == f"old-{tag}")),
        lambda rows: bool(rows),
    )
    history = await _rows(
        engine, select(stage_history).where(stage_history.c.subject_id == contact_id)
    )
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [(None, "awareness")]
    assert history[0]["event_id"] == f"now-{tag}", "the late event moved no stage"

    async with engine.begin() as conn:
        admin = (await issue_key(conn, Scope.ADMIN, datetime.now(UTC))).secret
    ops = create_ops_app(engine, orchestrator)
    bearer = {"authorization": f"Bearer {admin}"}
    transport = httpx.ASGITransport(app=ops)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as http:
        timeline = (await http.get(f"/v1/contacts/{contact_id}/timeline", headers=bearer)).json()
        funnel = await http.get(
            "/v1/funnel", headers=bearer, params={"account_id": contact[0]["account_id"]}
        )
        page = await http.get(f"/ui/contacts/{contact_id}", headers={
            "cookie": f"trellis_ui_key={admin}"})  # fmt: skip
    (shown,) = [i for i in timeline["items"] if i.get("event_id") == f"old-{tag}"]
    assert shown["type"] == "event" and shown["kind"] == "contact_identified"
    assert shown["at"].startswith("2015-02-23T22:28:55.111")
    assert shown["late"]["reason"] == "too late to change the stage"
    assert shown["late"]["window_days"] == 30
    assert datetime.fromisoformat(shown["late"]["compared_with"]) == newest
    assert funnel.status_code == 200, funnel.text
    assert funnel.json()["data_quality"] == {"late_events": 1, "duplicate_events": 0}
    assert page.status_code == 200
    assert "Too late to change the stage: more than 30 days older" in page.text
