"""One account per company whichever client names it (issue 17, item 3, the mapping): a Segment
``group`` call's reserved traits fill the account's name and domain, so a later native event or
CloudEvent naming only the domain (or the website) lands on the same account. Through ingest,
the real broker and the orchestrator, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.settings import IngestSettings
from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.ingest_server import add_source, basic, running_ingest
from tests.probes import eventually
from trellis.sources import SourceKind


async def _accounts_named(engine: AsyncEngine, domain: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(accounts).where(accounts.c.domain == domain))
        return [dict(r._mapping) for r in rows]


async def _account_of(engine: AsyncEngine, emails: list[str]) -> dict[str, str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(contacts.c.email, contacts.c.account_id).where(contacts.c.email.in_(emails))
        )
        return {email: account for email, account in rows}


async def test_a_group_call_names_the_account_that_later_events_find_by_domain(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    ingest = IngestSettings(**{**orchestrator.model_dump(), "kafka_idempotence": False})
    key = (await add_source(ingest, f"web-{uuid.uuid4().hex[:6]}", SourceKind.SDK)).credential
    tag = uuid.uuid4().hex[:8]
    domain = f"acme-{tag}.example"
    group = {
        "userId": f"u-{tag}", "groupId": f"acme-{tag}", "messageId": f"grp-{tag}",
        "traits": {"name": "Acme", "domain": domain, "employees": 500, "industry": "software",
                   "plan": "enterprise"},
        "timestamp": "2026-11-02T10:00:00Z",
    }  # fmt: skip
    native = {
        "id": f"nat-{tag}", "type": "content_downloaded", "source": "website",
        "time": "2026-11-02T10:05:00Z", "contact": {"email": f"ana@{domain}"},
        "account": {"domain": domain}, "properties": {"content_id": "guide"},
    }  # fmt: skip
    cloudevent = {
        "specversion": "1.0", "id": f"ce-{tag}", "source": "/crm", "type": "page_viewed",
        "time": "2026-11-02T10:06:00Z",
        "data": {"contact": {"external_id": f"crm-{tag}", "email": f"bo@mail-{tag}.example"},
                 "account": {"traits": {"website": f"https://www.{domain}/about"}},
                 "properties": {"path": "/pricing"}},
    }  # fmt: skip
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        grouped = await http.post("/v1/group", json=group, headers=basic(key))
        assert grouped.status_code == 200, grouped.text
        named = await eventually(
            lambda: _accounts_named(engine, domain), lambda rows: len(rows) == 1
        )
        sent = await http.post("/v1/events", json=native, headers=basic(key))
        structured = {**basic(key), "content-type": "application/cloudevents+json"}
        posted = await http.post("/v1/cloudevents", json=cloudevent, headers=structured)
    assert (sent.status_code, posted.status_code) == (202, 202), (sent.text, posted.text)
    account = named[0]
    assert (account["external_id"], account["name"]) == (f"acme-{tag}", "Acme")
    assert account["traits"]["employees"] == 500 and account["traits"]["plan"] == "enterprise"
    emails = [f"ana@{domain}", f"bo@mail-{tag}.example"]
    found = await eventually(lambda: _account_of(engine, emails), lambda got: len(got) == 2)
    assert found == {email: account["id"] for email in emails}
    assert len(await _accounts_named(engine, domain)) == 1, "one account per company"
