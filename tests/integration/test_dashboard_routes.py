"""The dashboard over HTTP on both databases: login by key, scopes, a rep's own inbox, forms that
change reminders, and refusals (cross-site posts, other reps' reminders, unknown pages)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, decisions, reminders
from services.orchestrator.dashboard.routes import dashboard_router
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.people import Nurture
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import StoredRecord

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday noon: reminders are due now
NURTURE = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))


@dataclass
class Seeded:
    tag: str
    keys: dict[str, str]
    http: httpx.AsyncClient
    engine: AsyncEngine


async def _seed(engine: AsyncEngine, tag: str) -> None:
    n = 0

    def event(who: str, org: str, kind: str, minutes: int, **props: Any) -> StoredRecord:
        nonlocal n
        n += 1
        value = orjson.dumps({
            "id": f"{tag}-{n}", "type": kind, "source": "test",
            "time": (NOW - timedelta(minutes=minutes)).isoformat(),
            "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@{org}-{tag}.example",
                        "traits": {"role": "technical"}},
            "account": {"external_id": f"{org}-{tag}", "domain": f"{org}-{tag}.example"},
            "properties": props,
        })  # fmt: skip
        return StoredRecord("trellis.engagement.v1", 0, n, value)

    batches = [
        [event("ana", "acme", "crm_owner_changed", 60, owner_email="rep-a@x.example"),
         event("bo", "bolt", "crm_owner_changed", 60, owner_email="rep-b@x.example")],
        [event("ana", "acme", "page_viewed", 50, path="/<b>pricing</b>"),
         event("ana", "acme", "demo_requested", 40),
         event("bo", "bolt", "demo_requested", 40)],
    ]  # fmt: skip
    for batch in batches:
        await apply_engagement(batch, engine, default_playbook(), lambda: NOW, nurture=NURTURE)


@pytest.fixture
async def seeded(engine: AsyncEngine, database_url: str) -> AsyncIterator[Seeded]:
    tag = uuid.uuid4().hex[:8]
    await _seed(engine, tag)
    keys = {}
    async with engine.begin() as conn:
        for scope, rep in ((Scope.ADMIN, None), (Scope.READ, None), (Scope.REP, "rep-a@x.example")):
            keys[scope.value] = (await issue_key(conn, scope, NOW, rep=rep)).secret
    settings = OrchestratorSettings(env="test", database_url=database_url)
    app = FastAPI()
    app.include_router(dashboard_router(engine, settings, clock=lambda: NOW))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as http:
        yield Seeded(tag, keys, http, engine)


def _as(s: Seeded, scope: str) -> dict[str, str]:
    return {"cookie": f"trellis_ui_key={s.keys[scope]}"}


async def _reminder(s: Seeded, rep: str) -> dict[str, Any]:
    async with s.engine.connect() as conn:
        mine = select(contacts.c.id).where(contacts.c.email.like(f"%-{s.tag}.example"))
        query = select(reminders).where(reminders.c.rep == rep, reminders.c.contact_id.in_(mine))
        return dict((await conn.execute(query)).mappings().one())


async def test_pages_need_a_key_and_the_login_returns_to_the_page(seeded: Seeded) -> None:
    reply = await seeded.http.get("/ui/reminders?status=open")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/ui/login?next=%2Fui%2Freminders%3Fstatus%3Dopen"
    bad = await seeded.http.post("/ui/login", data={"key": "tok_nope", "next": "/ui/"})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text
    good = await seeded.http.post(
        "/ui/login", data={"key": seeded.keys["read"], "next": "/ui/reminders"}
    )
    assert good.status_code == 303 and good.headers["location"] == "/ui/reminders"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie


async def test_a_key_in_the_address_does_not_log_in_and_is_not_echoed(seeded: Seeded) -> None:
    secret = seeded.keys["admin"]
    reply = await seeded.http.get(f"/ui/reminders?key={secret}&status=open")
    assert reply.status_code == 303 and "set-cookie" not in reply.headers
    assert reply.headers["location"] == "/ui/login?next=%2Fui%2Freminders%3Fstatus%3Dopen"
    form = await seeded.http.get(
        f"/ui/login?next=/ui/reminders%3Fkey%3D{secret}", follow_redirects=True
    )
    assert form.status_code == 200 and "<form" in form.text and secret not in form.text
    with_cookie = await seeded.http.get(f"/ui/?key={secret}", headers=_as(seeded, "read"))
    assert with_cookie.status_code == 200 and secret not in with_cookie.text
    assert "read-key · read" in with_cookie.text  # still the cookie's key, not the address's


async def test_a_rep_sees_only_their_own_inbox_and_can_acknowledge(seeded: Seeded) -> None:
    page = await seeded.http.get("/ui/reminders?rep=rep-b@x.example", headers=_as(seeded, "rep"))
    assert page.status_code == 200
    assert f"ana@acme-{seeded.tag}.example" in page.text
    assert f"bo@bolt-{seeded.tag}.example" not in page.text
    mine = await _reminder(seeded, "rep-a@x.example")
    reply = await seeded.http.post(
        f"/ui/reminders/{mine['id']}/acknowledge",
        data={"next": "/ui/reminders"},
        headers=_as(seeded, "rep") | {"origin": "http://ui.test"},
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/ui/reminders?notice=acknowledged"
    assert (await _reminder(seeded, "rep-a@x.example"))["status"] == "acknowledged"
    async with seeded.engine.connect() as conn:
        logged = (
            await conn.execute(
                select(decisions.c.facts).where(
                    decisions.c.touch_id == mine["id"], decisions.c.kind == "reminder_acknowledged"
                )
            )
        ).scalar_one()
    assert logged["by"].startswith("dashboard: key rep-key")


async def test_a_rep_cannot_touch_another_reps_reminder(seeded: Seeded) -> None:
    theirs = await _reminder(seeded, "rep-b@x.example")
    reply = await seeded.http.post(
        f"/ui/reminders/{theirs['id']}/complete", headers=_as(seeded, "rep")
    )
    assert reply.status_code == 403 and "another rep" in reply.text
    assert (await _reminder(seeded, "rep-b@x.example"))["status"] == "open"


async def test_snooze_takes_one_of_the_offered_durations(seeded: Seeded) -> None:
    theirs = await _reminder(seeded, "rep-b@x.example")
    url = f"/ui/reminders/{theirs['id']}/snooze"
    for hours in ("5", "0", "-1", str(10**30)):  # 10**30 hours overflowed timedelta: a 500
        odd = await seeded.http.post(url, data={"hours": hours}, headers=_as(seeded, "admin"))
        assert odd.status_code == 422 and "Snooze for one of" in odd.text, hours
    ok = await seeded.http.post(url, data={"hours": "4"}, headers=_as(seeded, "admin"))
    assert ok.status_code == 303
    after = await _reminder(seeded, "rep-b@x.example")
    assert after["status"] == "snoozed" and after["snoozed_until"] == NOW + timedelta(hours=4)
    again = await seeded.http.post(url, data={"hours": "4"}, headers=_as(seeded, "admin"))
    assert again.status_code == 409 and "cannot be snoozed now" in again.text


async def test_read_keys_look_but_do_not_act_and_reps_see_no_dead_letters(
    seeded: Seeded,
) -> None:
    page = await seeded.http.get("/ui/reminders", headers=_as(seeded, "read"))
    assert page.status_code == 200 and "Acknowledge</button>" not in page.text
    mine = await _reminder(seeded, "rep-a@x.example")
    reply = await seeded.http.post(
        f"/ui/reminders/{mine['id']}/acknowledge", headers=_as(seeded, "read")
    )
    assert reply.status_code == 403
    dlq = await seeded.http.get("/ui/dead-letters", headers=_as(seeded, "rep"))
    assert dlq.status_code == 403


async def test_a_form_posted_from_another_site_changes_nothing(seeded: Seeded) -> None:
    mine = await _reminder(seeded, "rep-a@x.example")
    reply = await seeded.http.post(
        f"/ui/reminders/{mine['id']}/complete",
        headers=_as(seeded, "admin") | {"origin": "https://evil.example"},
    )
    assert reply.status_code == 403
    assert (await _reminder(seeded, "rep-a@x.example"))["status"] == "open"


async def test_account_and_contact_pages_render_escaped_data(seeded: Seeded) -> None:
    mine = await _reminder(seeded, "rep-a@x.example")
    account = await seeded.http.get(
        f"/ui/accounts/{mine['account_id']}", headers=_as(seeded, "read")
    )
    assert account.status_code == 200
    assert 'data-role="technical"' in account.text and f"ana@acme-{seeded.tag}" in account.text
    contact = await seeded.http.get(
        f"/ui/contacts/{mine['contact_id']}", headers=_as(seeded, "read")
    )
    assert contact.status_code == 200
    assert "requested a demo" in contact.text
    assert "<b>pricing</b>" not in contact.text and "&lt;b&gt;pricing&lt;/b&gt;" in contact.text


async def test_overview_renders_charts_for_any_range(seeded: Seeded) -> None:
    page = await seeded.http.get(
        "/ui/?since=2026-11-01&until=2026-11-30", headers=_as(seeded, "read")
    )
    assert page.status_code == 200 and page.text.count('class="bar"') == 22  # 11 stages x 2
    mine = await _reminder(seeded, "rep-a@x.example")
    one = await seeded.http.get(f"/ui/?account={mine['account_id']}", headers=_as(seeded, "read"))
    assert (
        one.status_code == 200
        and f'Funnel of <a href="/ui/accounts/{mine["account_id"]}' in one.text
    )
    bad = await seeded.http.get("/ui/?since=garbage", headers=_as(seeded, "read"))
    assert bad.status_code == 200 and "not valid" in bad.text


async def test_unknown_things_are_404_pages(seeded: Seeded) -> None:
    for path in ("/ui/contacts/nope", "/ui/accounts/nope", "/ui/accounts?page=%%%"):
        reply = await seeded.http.get(path, headers=_as(seeded, "read"))
        assert reply.status_code == 404 and "<h1>Not found</h1>" in reply.text, path
