"""One account per company, stored (issue 17, items 3 and 4): a company first seen through its
people's work emails (an account known by domain) and named later by the CRM (an account known
by external id) is merged when one event names both: the survivor keeps both identifiers, the
people, the stage history and the aggregates (score, committee coverage, stage); the merge is
logged. The ops API's lookups then answer the one account and contact. Through the real broker
and orchestrator, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import ENGAGEMENT
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.repository import save_accounts
from services.orchestrator.adapters.state_codec import contact_view
from services.orchestrator.adapters.tables import (
    accounts,
    contacts,
    decisions,
    reminders,
    stage_history,
)
from services.orchestrator.dashboard.account_list import account_listing
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.state import AccountState
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops import queries
from services.orchestrator.ops.auth import Scope
from services.orchestrator.people import Nurture
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.ops_client import ops_client
from tests.probes import StoredRecord, eventually, produce

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _event(eid: str, kind: str, who: str, role: str, account: dict[str, Any], hour: int) -> bytes:
    return orjson.dumps({
        "id": eid, "type": kind, "source": "test", "time": (T + timedelta(hours=hour)).isoformat(),
        "contact": {"email": who, "traits": {"role": role}}, "account": account, "properties": {},
    })  # fmt: skip


async def _rows(engine: AsyncEngine, query: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings()]


@pytest.fixture
async def ops_http(
    engine: AsyncEngine, orchestrator: OrchestratorSettings
) -> AsyncIterator[httpx.AsyncClient]:
    async with ops_client(engine, orchestrator.database_url, lambda: T, Scope.READ) as http:
        yield http


async def test_an_account_seen_by_domain_and_by_crm_id_becomes_one_with_everything_it_had(
    orchestrator: OrchestratorSettings, engine: AsyncEngine, ops_http: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    domain, crm = f"acme-{tag}.example", f"crm-{tag}"
    ana, cfo, bo = (f"{n}@{domain}" for n in ("ana", "cfo", "bo"))
    key = f"a:{tag}".encode()  # one partition: the phases stay in order

    async def send(*values: bytes) -> None:
        await produce(orchestrator.bootstrap_servers, ENGAGEMENT, [(key, v) for v in values])

    by_domain = select(accounts).where(accounts.c.domain == domain)
    site = {"domain": domain}
    await send(_event(f"{tag}-1", "demo_requested", ana, "technical", site, 1),
               _event(f"{tag}-2", "demo_requested", cfo, "finance", site, 2))  # fmt: skip
    [first] = await eventually(
        lambda: _rows(engine, by_domain), lambda r: len(r) == 1 and r[0]["stage"] == "sql"
    )
    by_crm = select(accounts).where(accounts.c.external_id == crm)
    await send(_event(f"{tag}-3", "page_viewed", bo, "manager", {"external_id": crm}, 3))
    [named] = await eventually(lambda: _rows(engine, by_crm), lambda r: len(r) == 1)
    assert named["id"] != first["id"] and named["stage"] == "awareness" and named["domain"] is None

    both = {"external_id": crm, "domain": domain}
    await send(_event(f"{tag}-4", "page_viewed", bo, "manager", both, 4))
    gone = select(accounts).where(accounts.c.id == first["id"])
    await eventually(lambda: _rows(engine, gone), lambda r: r[0]["stage"] == "merged")
    [survivor] = await _rows(engine, by_crm)
    assert (survivor["id"], survivor["domain"]) == (named["id"], domain), "both identifiers"
    assert survivor["stage"] == "sql" and survivor["score"] >= first["score"] > 0
    assert {"finance", "technical"} <= set(survivor["state"]["coverage"])
    assert set(survivor["state"]["members"]) >= set(first["state"]["members"])
    people = await _rows(engine, select(contacts.c.email, contacts.c.account_id, contacts.c.state)
                         .where(contacts.c.email.in_([ana, cfo, bo])))  # fmt: skip
    assert {p["email"]: p["account_id"] for p in people} == dict.fromkeys(
        [ana, cfo, bo], named["id"]
    )
    assert {contact_view(p["state"])["account_key"] for p in people} == {named["id"]}
    both_ids = [first["id"], named["id"]]
    history = await _rows(engine, select(stage_history.c.subject_id, stage_history.c.to_stage)
                          .where(stage_history.c.subject_kind == "account",
                                 stage_history.c.subject_id.in_(both_ids)))  # fmt: skip
    assert {h["subject_id"] for h in history} == {named["id"]}, "the loser's history moved"
    assert "sql" in {h["to_stage"] for h in history}
    merges = await _rows(engine, select(decisions).where(
        decisions.c.kind == "identity_merged", decisions.c.account_id == named["id"]))  # fmt: skip
    assert [m["facts"]["merged_account"] for m in merges] == [first["id"]]

    later = f"dee@{domain}"  # the domain alone now finds the survivor
    await send(_event(f"{tag}-5", "page_viewed", later, "user", {"domain": domain}, 5))
    found = select(contacts.c.account_id).where(contacts.c.email == later)
    await eventually(lambda: _rows(engine, found), lambda r: r == [{"account_id": named["id"]}])

    for params in ({"domain": domain}, {"domain": f"WWW.{domain.upper()}"}, {"external_id": crm}):
        r = await ops_http.get("/v1/accounts", params=params)
        assert r.status_code == 200, r.text
        assert [a["id"] for a in r.json()["items"]] == [named["id"]], params
    r = await ops_http.get("/v1/contacts", params={"email": cfo.upper()})
    assert [(c["email"], c["account_id"]) for c in r.json()["items"]] == [(cfo, named["id"])]
    r = await ops_http.get("/v1/accounts", params={"domain": f"nobody-{tag}.example"})
    assert r.json() == {"items": [], "next_cursor": None}


async def test_a_survivor_with_its_own_domain_leaves_the_other_on_the_merged_row(
    engine: AsyncEngine,
) -> None:
    """The handler with a nurture plan (rep reminders), on both databases, without the broker:
    the CRM's account already has a domain, so the merged-away row keeps its own and that domain
    still finds the survivor; the rep's reminder moves; the dashboard lists the company once."""
    tag = uuid.uuid4().hex[:8]
    domain, crm = f"initech-{tag}.example", f"crm-{tag}"
    plan = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))
    named = {"external_id": crm, "domain": f"initech-{tag}.io"}
    records = [
        _event(f"{tag}-1", "demo_requested", f"ana@{domain}", "technical", {"domain": domain}, 1),
        _event(f"{tag}-2", "page_viewed", f"bo@{domain}", "manager", named, 2),
        _event(f"{tag}-3", "page_viewed", f"bo@{domain}", "manager",
               {"external_id": crm, "domain": domain}, 3),
        _event(f"{tag}-4", "page_viewed", f"cy@{domain}", "user", {"domain": domain}, 4),
    ]  # fmt: skip
    for n, value in enumerate(records):  # one batch each, in order
        stored = [StoredRecord(ENGAGEMENT, 0, n, value)]
        await apply_engagement(stored, engine, default_playbook(), lambda: T + timedelta(hours=5),
                               nurture=plan)  # fmt: skip
        if n == 0:  # the demo request told the rep, under the domain's account
            [(before,)] = await _rows_of(engine, select(reminders.c.account_id), f"ana@{domain}")
    [survivor] = await _rows(engine, select(accounts).where(accounts.c.external_id == crm))
    [gone] = await _rows(engine, select(accounts).where(accounts.c.id == before))
    assert (survivor["domain"], gone["domain"]) == (f"initech-{tag}.io", domain)
    assert (gone["stage"], gone["merged_into"], gone["state"]) == ("merged", survivor["id"], {})
    assert await _rows_of(engine, select(reminders.c.account_id), f"ana@{domain}") == [
        (survivor["id"],)
    ]
    people = await _rows(engine, select(contacts.c.account_id).where(
        contacts.c.email.in_([f"{n}@{domain}" for n in ("ana", "bo", "cy")])))  # fmt: skip
    assert [p["account_id"] for p in people] == [survivor["id"]] * 3
    async with engine.connect() as conn:
        listed = await account_listing(conn, search=f"initech-{tag}")
        looked_up = await queries.list_accounts(conn, domain=domain)
    assert [r["id"] for r in listed.rows] == [survivor["id"]], "one company, listed once"
    assert [a["id"] for a in looked_up["items"]] == [survivor["id"]]
    late = {before: AccountState(key=before, stage=Stage.SQL, score=9.0)}  # a racing instance
    async with engine.begin() as conn:
        await save_accounts(conn, late, {}, T)
    [still] = await _rows(engine, select(accounts).where(accounts.c.id == before))
    assert (still["stage"], still["state"]) == ("merged", {}), "a merged row stays merged"


async def _rows_of(engine: AsyncEngine, query: Any, email: str) -> list[tuple[Any, ...]]:
    """``query``'s rows about the contact known by ``email``."""
    owner = select(contacts.c.id).where(contacts.c.email == email).scalar_subquery()
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(query.where(reminders.c.contact_id == owner))]
