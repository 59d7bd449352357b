"""Hostile input to the ops API and dashboard over real HTTP, on SQLite and PostgreSQL: each was
(or could be) a 500 from the database driver or the datetime arithmetic; each is now a 4xx that
names what was wrong. Issue 13 (trust boundaries)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, reminders
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops.app import OpsServer, create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.people import Nurture
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import StoredRecord
from trellis import b64url
from trellis.broker import free_port

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: the reminders are due
FAR = "9999-12-31T23:59:59-14:00"  # representable, but overflows when converted to UTC
TOO_EARLY = "0001-01-01T00:00:00+14:00"  # underflows the same way
HUGE = str(10**30)  # past 64 bits: both drivers overflow


@dataclass
class Ops:
    http: httpx.AsyncClient
    admin: dict[str, str]
    reminder_ids: list[str]
    contact_id: str


async def _seed(engine: AsyncEngine, tag: str) -> None:
    """Two contacts owned by two reps who both request a demo: two open reminders."""
    batch = []
    for n, (who, kind, props) in enumerate([
        ("ana", "crm_owner_changed", {"owner_email": "rep-a@x.example"}),
        ("bo", "crm_owner_changed", {"owner_email": "rep-b@x.example"}),
        ("ana", "demo_requested", {}), ("bo", "demo_requested", {}),
    ]):  # fmt: skip
        value = orjson.dumps({
            "id": f"{tag}-{n}", "type": kind, "source": "test",
            "time": (NOW - timedelta(minutes=30 - n)).isoformat(),
            "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@{tag}.example"},
            "account": {"external_id": f"acme-{tag}", "domain": f"acme-{tag}.example"},
            "properties": props,
        })  # fmt: skip
        batch.append(StoredRecord("trellis.engagement.v1", 0, n, value))
    nurture = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))
    await apply_engagement(batch, engine, default_playbook(), lambda: NOW, nurture=nurture)


@pytest.fixture
async def ops(engine: AsyncEngine, database_url: str) -> AsyncIterator[Ops]:
    tag = uuid.uuid4().hex[:8]
    await _seed(engine, tag)
    async with engine.begin() as conn:
        secret = (await issue_key(conn, Scope.ADMIN, NOW)).secret
        ids = sorted((await conn.execute(select(reminders.c.id))).scalars())
        contact = (await conn.execute(select(contacts.c.id).limit(1))).scalar_one()
    assert len(ids) == 2
    port = free_port()
    settings = OrchestratorSettings(env="test", database_url=database_url, ops_serve=False)
    server = OpsServer(create_ops_app(engine, settings, lambda: NOW), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield Ops(http, {"authorization": f"Bearer {secret}"}, ids, str(contact))
    finally:
        await server.stop()


def _loc(r: httpx.Response) -> list[Any]:
    assert r.status_code == 422, (r.status_code, r.text)
    return [e["loc"] for e in r.json()["detail"]]


def _cursor(*values: Any) -> str:
    return b64url.encode(json.dumps(list(values)).encode())  # orjson refuses ints past 64 bits


# (a) snooze until ------------------------------------------------------------------------


async def test_snooze_until_is_bounded_like_minutes(ops: Ops) -> None:
    url = f"/v1/reminders/{ops.reminder_ids[0]}/snooze"
    for until, words in [
        ((NOW + timedelta(days=30, minutes=1)).isoformat(), "30 days"),
        ((NOW - timedelta(minutes=6)).isoformat(), "before"),
        (FAR, "representable"), (TOO_EARLY, "representable"),
    ]:  # fmt: skip
        r = await ops.http.post(url, headers=ops.admin, params={"until": until})
        assert _loc(r) == [["query", "until"]] and words in r.text, until
        assert "accepted from" in r.text or "representable" in r.text
    naive = await ops.http.post(url, headers=ops.admin, params={"until": "2026-11-19T12:00:00"})
    assert _loc(naive) == [["query", "until"]]
    for minutes in ("0", str(60 * 24 * 30 + 1), HUGE):
        r = await ops.http.post(url, headers=ops.admin, params={"minutes": minutes})
        assert _loc(r) == [["query", "minutes"]], minutes
    # a clock a little behind ours: the shortest snooze, not a refusal
    skewed = (NOW - timedelta(minutes=2)).isoformat()
    r = await ops.http.post(url, headers=ops.admin, params={"until": skewed})
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["snoozed_until"]) == NOW + timedelta(minutes=1)
    ack = await ops.http.post(url.replace("snooze", "acknowledge"), headers=ops.admin)
    assert ack.status_code == 200
    longest = (NOW + timedelta(days=30)).isoformat()
    r = await ops.http.post(url, headers=ops.admin, params={"until": longest})
    assert r.status_code == 200 and r.json()["snoozed_until"].startswith("2026-12-18T12:00")


# (b) no key in a URL ----------------------------------------------------------------------


async def test_a_key_in_the_dashboard_address_does_not_log_in(ops: Ops) -> None:
    secret = ops.admin["authorization"].removeprefix("Bearer ")
    r = await ops.http.get(f"/ui/contacts?key={secret}&stage=sql")
    assert r.status_code == 303 and "set-cookie" not in r.headers
    assert secret not in r.headers["location"] and "stage%3Dsql" in r.headers["location"]
    page = await ops.http.get(r.headers["location"])
    assert page.status_code == 200 and secret not in page.text
    login = await ops.http.post("/ui/login", data={"key": secret, "next": "/ui/contacts"})
    assert login.status_code == 303 and "httponly" in login.headers["set-cookie"].lower()


# (c) anti-framing -------------------------------------------------------------------------


async def test_docs_redoc_and_pages_refuse_to_be_framed(ops: Ops) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/healthz", "/ui/login"):
        r = await ops.http.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
    dashboard = await ops.http.get("/ui/login")  # its own, stricter policy is kept
    assert "default-src 'none'" in dashboard.headers["content-security-policy"]
    link = await ops.http.get(f"/v1/reminders/{ops.reminder_ids[0]}/acknowledge?token=x")
    assert link.status_code == 403 and link.headers["x-frame-options"] == "DENY"


# (d) times in queries ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/touches", "/v1/funnel", "/v1/decisions"])
async def test_implausible_times_in_queries_are_422_naming_the_parameter_and_window(
    ops: Ops, path: str
) -> None:
    past_window = (NOW + timedelta(days=1827)).isoformat()
    for name in ("since", "until"):
        for value in (FAR, TOO_EARLY, "1999-12-31T23:59:59Z", past_window):
            r = await ops.http.get(path, headers=ops.admin, params={name: value})
            assert _loc(r) == [["query", name]], (name, value)
            assert "2000-01-01" in r.text or "representable" in r.text, r.text
        for value in ("2026-11-18T10:00:00", "yesterday", "2026-13-45T00:00:00Z"):
            r = await ops.http.get(path, headers=ops.admin, params={name: value})
            assert _loc(r) == [["query", name]], (name, value)
    window = (await ops.http.get(path, headers=ops.admin, params={"since": past_window})).json()
    assert "now + 1826 days" in window["detail"][0]["msg"]
    both = await ops.http.get(path, headers=ops.admin, params={"since": FAR, "until": FAR})
    assert _loc(both) == [["query", "since"], ["query", "until"]]
    reversed_ = {"since": "2026-11-18T10:00:00Z", "until": "2026-11-17T10:00:00Z"}
    assert _loc(await ops.http.get(path, headers=ops.admin, params=reversed_)) == [
        ["query", "until"]
    ]
    planned = {"since": "2000-01-01T00:00:00Z", "until": (NOW + timedelta(days=1800)).isoformat()}
    assert (await ops.http.get(path, headers=ops.admin, params=planned)).status_code == 200


# (e) integers -----------------------------------------------------------------------------


async def test_out_of_range_integers_are_422_on_every_route(ops: Ops) -> None:
    for path in ("/v1/contacts", "/v1/accounts", "/v1/touches", "/v1/decisions", "/v1/reminders",
                 f"/v1/contacts/{ops.contact_id}/timeline"):  # fmt: skip
        for limit in (HUGE, "0", "-1", "501", "1e3"):
            r = await ops.http.get(path, headers=ops.admin, params={"limit": limit})
            assert _loc(r) == [["query", "limit"]], (path, limit)
    for rate in (10**30, 2**31, 100_001, 0, -5):  # 2**31 overflowed PostgreSQL's integer
        body = {"name": f"src-{rate}", "rate_limit_per_s": rate}
        r = await ops.http.post("/v1/sources", headers=ops.admin, json=body)
        assert _loc(r) == [["body", "rate_limit_per_s"]], rate
    for ident in (2**63, 10**30, -1):  # decision ids are signed 64-bit
        forged = _cursor("2026-11-18T12:00:00+00:00", ident)
        r = await ops.http.get("/v1/decisions", headers=ops.admin, params={"cursor": forged})
        assert _loc(r) == [["query", "cursor"]], ident
    replay = {"topic": "x.dlq", "partition": str(2**31), "offset": "0"}
    login = await ops.http.post("/ui/login", data={"key": ops.admin["authorization"][7:]})
    cookie = {"cookie": login.headers["set-cookie"].split(";")[0]}
    r = await ops.http.post("/ui/dead-letters/replay", data=replay, headers=cookie)
    assert _loc(r) == [["body", "partition"]]
    r = await ops.http.post(
        "/ui/dead-letters/replay", data=replay | {"partition": "0", "offset": HUGE}, headers=cookie
    )
    assert _loc(r) == [["body", "offset"]]


# (f) everything else hostile ------------------------------------------------------------


async def test_nul_and_control_characters_are_422_not_a_database_error(ops: Ops) -> None:
    rid = ops.reminder_ids[0]
    for method, path, where in [
        ("GET", "/v1/contacts/a%00b", "contact_id"), ("GET", "/v1/contacts/%00/why", "contact_id"),
        ("GET", "/v1/contacts/%00/timeline", "contact_id"),
        ("GET", "/v1/contacts/%00/consent", "contact_id"),
        ("GET", "/v1/accounts/%00", "account_id"), ("GET", "/v1/reminders/%00", "reminder_id"),
        ("POST", "/v1/reminders/%00/acknowledge", "reminder_id"),
        ("POST", "/v1/sources/%00/rotate", "source"),
        ("POST", "/v1/sources/a%0Ab/disable", "source"),
    ]:  # fmt: skip
        r = await ops.http.request(method, path, headers=ops.admin)
        assert _loc(r) == [["path", where]], path
    for path, name in [("/v1/contacts", "account_id"), ("/v1/touches", "contact_id"),
                       ("/v1/touches", "reason"), ("/v1/decisions", "kind"),
                       ("/v1/decisions", "account_id"), ("/v1/reminders", "rep"),
                       ("/v1/funnel", "account_id")]:  # fmt: skip
        r = await ops.http.get(path, headers=ops.admin, params={name: "x\x00y"})
        assert _loc(r) == [["query", name]], (path, name)
    r = await ops.http.post("/v1/sources", headers=ops.admin, json={"name": "a\x00b"})
    assert _loc(r) == [["body", "name"]]
    ok = await ops.http.post(f"/v1/reminders/{rid}/acknowledge", headers=ops.admin)
    assert ok.status_code == 200  # the same routes still work for a real id


async def test_huge_strings_bad_cursors_and_unknown_values_are_4xx(ops: Ops) -> None:
    big = "a" * 20_000
    r = await ops.http.get(f"/v1/contacts/{big}", headers=ops.admin)
    assert _loc(r) == [["path", "contact_id"]]
    for path, params in [("/v1/touches", {"account_id": big}), ("/v1/touches", {"cursor": big}),
                         ("/v1/decisions", {"reason": "R" * 65}), ("/v1/reminders", {"rep": big}),
                         ("/v1/contacts", {"stage": "lost"}), ("/v1/touches", {"status": "x"}),
                         ("/v1/reminders", {"status": "x"}), ("/v1/accounts", {"stage": "x"}),
                         ("/v1/touches", {"channel": "pigeon"})]:  # fmt: skip
        r = await ops.http.get(path, headers=ops.admin, params=params)
        assert _loc(r) == [["query", next(iter(params))]], (path, params)
    for path, cursor in [
        ("/v1/touches", _cursor(FAR, "t1")), ("/v1/touches", _cursor("2026-11-18T12:00:00", "t1")),
        ("/v1/touches", _cursor("2026-11-18T12:00:00Z", "t\x001")), ("/v1/touches", _cursor(1, 2)),
        ("/v1/contacts", _cursor(["a"], "b")), ("/v1/contacts", _cursor("a\x00", "a\x00")),
        ("/v1/accounts", _cursor({"x": 1}, "b")), ("/v1/reminders", _cursor(TOO_EARLY, "r")),
        ("/v1/decisions", _cursor("2026-11-18T12:00:00Z", True)), ("/v1/contacts", "%%%"),
    ]:  # fmt: skip
        r = await ops.http.get(path, headers=ops.admin, params={"cursor": cursor})
        assert _loc(r) == [["query", "cursor"]], (path, cursor)
    r = await ops.http.post(f"/v1/reminders/{ops.reminder_ids[0]}/explode", headers=ops.admin)
    assert _loc(r) == [["path", "action"]]
    r = await ops.http.post("/v1/sources", headers=ops.admin, json={"name": "a", "kind": "pigeon"})
    assert _loc(r) == [["body", "kind"]]
    deep = ops.http.post("/v1/sources", headers=ops.admin | {"content-type": "application/json"},
                         content=b"[" * 100_000)  # fmt: skip
    assert (await deep).status_code in (400, 422)


async def test_the_dashboard_answers_hostile_addresses_with_a_page_not_a_500(ops: Ops) -> None:
    login = await ops.http.post("/ui/login", data={"key": ops.admin["authorization"][7:]})
    cookie = {"cookie": login.headers["set-cookie"].split(";")[0]}
    for path in ("/ui/contacts/a%00b", "/ui/accounts/%00", "/ui/contacts?stage=%00",
                 "/ui/reminders?rep=x%00", "/ui/?account=%00", "/ui/accounts?cursor=%00",
                 f"/ui/contacts/{'a' * 5000}",
                 f"/ui/reminders/{'r' * 3000}/acknowledge"):  # fmt: skip
        method = "POST" if path.endswith("acknowledge") else "GET"
        r = await ops.http.request(method, path, headers=cookie)
        assert r.status_code == 422 and "<h1>Not valid</h1>" in r.text, path
        assert r.headers["x-frame-options"] == "DENY"
    for since, until in ((FAR[:10], ""), ("", FAR[:10]), ("1999-12-31", ""), ("0001-01-01", "")):
        r = await ops.http.get("/ui/", params={"since": since, "until": until}, headers=cookie)
        assert r.status_code == 200 and "not valid" in r.text, (since, until)
    r = await ops.http.get("/ui/accounts?page=99999999999", headers=cookie)
    assert r.status_code == 404 and "does not exist" in r.text
    long_way_back = "/ui/contacts?stage=sql&cursor=" + "c" * 600  # a whole address in next=
    r = await ops.http.get("/ui/login", params={"next": long_way_back})
    assert r.status_code == 200 and "c" * 600 in r.text
