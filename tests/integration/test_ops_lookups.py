"""Lookups (issue 17, item 4) over real HTTP, on SQLite and PostgreSQL: the ops API finds the one
contact by email or external id and the one account by domain or external id (a page of at most
one item, empty when none is known), refuses hostile values with a 422 naming the parameter, and
the dashboard's search box goes straight to the page an exact email or domain names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops.auth import Scope
from tests.integration.ops_client import ops_client
from tests.probes import StoredRecord

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


@dataclass
class Seeded:
    http: httpx.AsyncClient
    tag: str


@pytest.fixture
async def seeded(engine: AsyncEngine, database_url: str) -> AsyncIterator[Seeded]:
    """Two people at one account named by the CRM and its domain, and one at another."""
    tag = uuid.uuid4().hex[:8]
    people = [("ana", f"acme-{tag}"), ("bo", f"acme-{tag}"), ("cy", f"globex-{tag}")]
    batch = [
        StoredRecord("trellis.engagement.v1", 0, n, orjson.dumps({
            "id": f"{tag}-{n}", "type": "page_viewed", "source": "test",
            "time": (NOW - timedelta(minutes=10 - n)).isoformat(),
            "contact": {"external_id": f"{who}-{tag}", "email": f"{who.title()}@{firm}.example"},
            "account": {"external_id": firm, "domain": f"{firm}.example"}, "properties": {},
        }))
        for n, (who, firm) in enumerate(people)
    ]  # fmt: skip
    await apply_engagement(batch, engine, default_playbook(), lambda: NOW)
    async with ops_client(engine, database_url, lambda: NOW, Scope.READ) as http:
        yield Seeded(http, tag)


async def _items(s: Seeded, path: str, **params: str) -> list[dict[str, Any]]:
    r = await s.http.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_each_lookup_answers_the_one_contact_or_account_it_names(seeded: Seeded) -> None:
    tag = seeded.tag
    [ana] = await _items(seeded, "/v1/contacts", email=f"ana@acme-{tag}.example")
    assert (ana["external_id"], ana["email"]) == (f"ana-{tag}", f"ana@acme-{tag}.example")
    assert await _items(seeded, "/v1/contacts", email=f" ANA@ACME-{tag}.EXAMPLE ") == [ana]
    assert await _items(seeded, "/v1/contacts", external_id=f"ana-{tag}") == [ana]
    assert await _items(seeded, "/v1/contacts", external_id=f"ANA-{tag}") == [], "ids are exact"
    both = {"email": f"ana@acme-{tag}.example", "external_id": f"bo-{tag}"}
    assert await _items(seeded, "/v1/contacts", **both) == [], "filters combine"
    assert await _items(seeded, "/v1/contacts", email=f"ana@acme-{tag}.example", stage="sql") == []
    [acme] = await _items(seeded, "/v1/accounts", domain=f"acme-{tag}.example")
    assert (acme["id"], acme["external_id"]) == (ana["account_id"], f"acme-{tag}")
    assert await _items(seeded, "/v1/accounts", domain=f"www.ACME-{tag}.example") == [acme]
    assert await _items(seeded, "/v1/accounts", external_id=f"acme-{tag}") == [acme]
    [globex] = await _items(seeded, "/v1/accounts", external_id=f"globex-{tag}")
    assert globex["domain"] == f"globex-{tag}.example" and globex["id"] != acme["id"]
    assert await _items(seeded, "/v1/accounts", domain=f"acme-{tag}") == [], "exact, not a prefix"
    assert await _items(seeded, "/v1/contacts", email=f"nobody@acme-{tag}.example") == []


async def test_hostile_lookup_values_are_422_naming_the_parameter(seeded: Seeded) -> None:
    for path, name, too_long in [("/v1/contacts", "email", 321), ("/v1/contacts", "external_id",
                                 201), ("/v1/accounts", "domain", 254),
                                 ("/v1/accounts", "external_id", 201)]:  # fmt: skip
        for value in ("x\x00y@a.example", "a\nb", "", "z" * too_long):
            r = await seeded.http.get(path, params={name: value})
            assert r.status_code == 422, (path, name, value[:20], r.status_code)
            assert [e["loc"] for e in r.json()["detail"]] == [["query", name]]
    r = await seeded.http.get("/v1/accounts", params={"domain": "acme.example"},
                              headers={"authorization": ""})  # fmt: skip
    assert r.status_code == 401, "a lookup needs a key like every list"


async def test_the_dashboard_search_goes_straight_to_an_exact_email_or_domain(
    seeded: Seeded,
) -> None:
    tag = seeded.tag
    [ana] = await _items(seeded, "/v1/contacts", email=f"ana@acme-{tag}.example")
    secret = seeded.http.headers["authorization"].removeprefix("Bearer ")
    login = await seeded.http.post("/ui/login", data={"key": secret}, headers={"authorization": ""})
    cookie = {"cookie": login.headers["set-cookie"].split(";")[0]}
    for typed, page in [
        (f"ANA@acme-{tag}.example", f"/ui/contacts/{ana['id']}"),
        (f" acme-{tag}.example ", f"/ui/accounts/{ana['account_id']}"),
    ]:
        r = await seeded.http.get("/ui/accounts", params={"q": typed}, headers=cookie)
        assert (r.status_code, r.headers.get("location")) == (303, page), typed
        assert (await seeded.http.get(page, headers=cookie)).status_code == 200
    r = await seeded.http.get("/ui/accounts", params={"q": f"acme-{tag}"}, headers=cookie)
    assert r.status_code == 200 and f"acme-{tag}.example" in r.text, "a part still lists"
    r = await seeded.http.get("/ui/accounts", params={"q": f"zed@acme-{tag}.example"},
                              headers=cookie)  # fmt: skip
    assert r.status_code == 200 and "No accounts" in r.text
