"""The ops API over real HTTP (uvicorn on a free port) on SQLite and PostgreSQL, with state made by
the real orchestrator handler and scheduler (and the real broker for the dispatched commands)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.topics import REMINDERS
from services.orchestrator.adapters import consent_store
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import (
    accounts,
    consent_ledger,
    contacts,
    reminders,
    stage_history,
)
from services.orchestrator.domain.consent import Suppression, SuppressionKind
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops.app import OpsServer, create_ops_app, reminder_links
from services.orchestrator.ops.auth import Scope, issue_key, revoke_key
from services.orchestrator.people import Nurture
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import StoredRecord, read_topic
from trellis.broker import free_port
from trellis.kafka import make_producer
from trellis.settings import TrellisSettings

T = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday, inside every default window
REP1, REP2 = "rep1@x.example", "rep2@x.example"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    base: str
    http: httpx.AsyncClient
    clock: Clock
    keys: dict[str, str]
    tag: str
    engine: AsyncEngine
    settings: OrchestratorSettings

    def auth(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[who]}"}

    async def get(self, path: str, who: str = "admin", **params: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(who), params=params)

    async def post(
        self, path: str, who: str | None = "admin", json: Any = None, **params: Any
    ) -> httpx.Response:
        headers = self.auth(who) if who else {}
        return await self.http.post(path, headers=headers, json=json, params=params)

    async def contact_id(self, who: str) -> str:
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                select(contacts.c.id).where(contacts.c.email == f"{who}@{self.tag}.example")
            )
        assert found is not None
        return str(found)


def _event(
    tag: str, n: int, who: str, kind: str, first: str, role: str, **props: Any
) -> StoredRecord:
    account = "acme" if who != "cy" else "globex"
    value = orjson.dumps({
        "id": f"{tag}-{n}", "type": kind, "source": "test",
        "time": (T - timedelta(minutes=50 - n)).isoformat(),
        "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@{tag}.example",
                    "traits": {"first_name": first, "role": role}},
        "account": {"external_id": f"{account}-{tag}", "domain": f"{account}-{tag}.example",
                    "traits": {"industry": "software", "employees": 400, "region": "emea"}},
        "properties": props,
    })  # fmt: skip
    return StoredRecord("trellis.engagement.v1", 0, n, value)


async def _seed(engine: AsyncEngine, settings: OrchestratorSettings, tag: str) -> None:
    """Ana (technical, owner rep1) requests a demo; Bob (finance) only browses; Cy at another
    account (owner rep2) requests a demo. Then the scheduler decides the due touches."""
    optin = {"channel": "email", "method": "form", "form": "newsletter"}
    events = [  # Ana and Cy opted in to email, Bob did not
        ("ana", "consent_given", "Ana", "technical", optin),
        ("cy", "consent_given", "Cy", "manager", optin),
        ("ana", "crm_owner_changed", "Ana", "technical", {"owner_email": REP1}),
        ("ana", "page_viewed", "Ana", "technical", {"path": "/blog"}),
        ("ana", "content_downloaded", "Ana", "technical", {"content_type": "whitepaper"}),
        ("ana", "webinar_attended", "Ana", "technical", {}),
        ("bob", "page_viewed", "Bob", "finance", {"path": "/blog"}),
        ("cy", "crm_owner_changed", "Cy", "manager", {"owner_email": REP2}),
        ("ana", "demo_requested", "Ana", "technical", {}),
        ("cy", "demo_requested", "Cy", "manager", {}),
    ]
    nurture = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))
    for n, (who, kind, first, role, props) in enumerate(events):
        record = _event(tag, n, who, kind, first, role, **props)
        await apply_engagement([record], engine, default_playbook(), lambda: T, nurture=nurture)
    producer = make_producer(settings)
    await producer.start()
    try:
        links = reminder_links(settings)
        later = T + timedelta(hours=2)
        scheduler = Scheduler(engine, producer, nurture, "ops-test", lambda: later, links=links)
        while await scheduler.dispatch_due():
            pass
    finally:
        await producer.stop()


@pytest.fixture
async def api(settings: TrellisSettings, engine: AsyncEngine) -> AsyncIterator[Api]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    own = OrchestratorSettings(
        **settings.model_dump(), ops_base_url=base,
        ops_link_secret="test-link-secret", ops_serve=False,
    )  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    await _seed(engine, own, tag)
    clock = Clock(T + timedelta(hours=3))
    keys: dict[str, str] = {}
    async with engine.begin() as conn:
        for who, scope, rep in (
            ("admin", Scope.ADMIN, None), ("read", Scope.READ, None),
            ("rep1", Scope.REP, REP1), ("rep2", Scope.REP, REP2), ("revoked", Scope.READ, None),
        ):  # fmt: skip
            keys[who] = (await issue_key(conn, scope, T, rep, name=who)).secret
        await revoke_key(conn, "revoked", T)
    server = OpsServer(create_ops_app(engine, own, clock), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            yield Api(base, http, clock, keys, tag, engine, own)
    finally:
        await server.stop()


async def _reminder_of(api: Api, rep: str) -> dict[str, Any]:
    async with api.engine.connect() as conn:
        row = (await conn.execute(select(reminders).where(reminders.c.rep == rep))).one()
    return dict(row._mapping)


# --- keys and scopes -------------------------------------------------------------------------


async def test_requests_without_a_valid_key_get_401_and_the_wrong_scope_gets_403_naming_it(
    api: Api,
) -> None:
    missing = await api.http.get("/v1/contacts")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["detail"]["message"]
    for bad in ("tok_nope", api.keys["revoked"]):
        r = await api.http.get("/v1/contacts", headers={"authorization": f"Bearer {bad}"})
        assert r.status_code == 401, r.text
    bob = await api.contact_id("bob")
    body = {"channel": "email", "status": "granted", "evidence": "said yes on a call"}
    r = await api.post(f"/v1/contacts/{bob}/consent", "read", body)
    assert r.status_code == 403
    assert r.json()["detail"]["required_scopes"] == ["admin", "rep"]
    for who in ("rep1", "read"):
        r = await api.get("/v1/sources", who)
        assert r.status_code == 403 and r.json()["detail"]["required_scopes"] == ["admin"]
        r = await api.post("/v1/sources", who, {"name": "crm"})
        assert r.status_code == 403
    assert (await api.get("/v1/sources", "admin")).status_code == 200
    assert (await api.get("/v1/contacts", "read")).status_code == 200
    assert (await api.http.get("/docs")).status_code == 200
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    assert {"/v1/contacts/{contact_id}/why", "/v1/funnel", "/v1/sources"} <= set(paths)


async def test_a_rep_key_sees_and_acts_on_its_own_reminders_only(api: Api) -> None:
    mine, theirs = await _reminder_of(api, REP1), await _reminder_of(api, REP2)
    listed = (await api.get("/v1/reminders", "rep1")).json()["items"]
    assert [r["id"] for r in listed] == [mine["id"]]
    assert listed[0]["contact_email"] == f"ana@{api.tag}.example"
    r = await api.get("/v1/reminders", "rep1", rep=REP2)
    assert r.status_code == 403 and "own" in r.json()["detail"]["message"]
    assert (await api.get(f"/v1/reminders/{theirs['id']}", "rep1")).status_code == 403
    r = await api.post(f"/v1/reminders/{theirs['id']}/acknowledge", "rep1")
    assert r.status_code == 403 and "another rep" in r.json()["detail"]["message"]
    r = await api.post(f"/v1/reminders/{theirs['id']}/acknowledge", "read")
    assert r.status_code == 403
    assert (await _reminder_of(api, REP2))["status"] == "open"
    everyone = (await api.get("/v1/reminders", "read")).json()["items"]
    assert {r["rep"] for r in everyone} == {REP1, REP2}


# --- contacts, accounts, why -----------------------------------------------------------------


async def test_contact_detail_has_state_score_breakdown_history_consent_and_touches(
    api: Api,
) -> None:
    ana = await api.contact_id("ana")
    r = await api.get(f"/v1/contacts/{ana}", "read")
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["stage"] == "sql" and c["owner_rep"] == REP1 and c["role"] == "technical"
    rules = {x["rule"]: x for x in c["score_breakdown"]["by_rule"]}
    assert rules["demo_requested"]["points"] == 40 and rules["webinar_attended"]["events"] == 1
    assert c["stage_history"][0]["to_stage"] == "awareness"
    assert c["stage_history"][-1]["to_stage"] == "sql"
    assert c["consent"]["channels"]["email"] == {
        "allowed": True, "status": "granted", "source": "test",
        "recorded_at": "2026-11-18T11:10:00+00:00", "basis": "opt_in", "suppressed_by": None,
    }  # fmt: skip
    assert c["consent"]["channels"]["sms"]["allowed"] is False
    assert c["consent"]["channels"]["call"]["allowed"] is True  # legitimate interest
    assert {t["channel"] for t in c["touches"]} >= {"email", "rep_call_reminder"}
    assert c["reminders"][0]["reason"] == "demo_requested"

    timeline = (await api.get(f"/v1/contacts/{ana}/timeline", "read")).json()["items"]
    kinds = [(i["type"], i["kind"]) for i in timeline]
    assert ("event", "demo_requested") in kinds and ("decision", "reminder_created") in kinds
    assert ("decision", "touch_dispatched") in kinds
    assert [i["at"] for i in timeline] == sorted((i["at"] for i in timeline), reverse=True)

    missing = await api.get("/v1/contacts/c_nobody", "read")
    assert missing.status_code == 404
    assert missing.json()["detail"] == {
        "error": "not_found", "message": "no contact with id 'c_nobody'", "contact": "c_nobody"
    }  # fmt: skip
    assert (await api.get("/v1/contacts/c_nobody/why", "read")).status_code == 404


async def test_why_answers_in_plain_words_with_the_facts(api: Api) -> None:
    bob, ana = await api.contact_id("bob"), await api.contact_id("ana")
    r = (await api.get(f"/v1/contacts/{bob}/why", "read")).json()
    assert r["sent"] is False and r["decision"]["reason"] == "NO_CONSENT"
    assert r["decision"]["kind"] == "touch_not_planned"  # a plan lists only what will be sent
    assert r["answer"] == (
        'The email "awareness how others solve" was not planned for Bob: Bob has not opted in '
        "to email (no consent record)."
    )
    assert r["touch"] is None and r["consent"]["email"]["allowed"] is False
    r = (await api.get(f"/v1/contacts/{ana}/why", "read")).json()
    assert r["sent"] is True and r["decision"]["kind"] == "touch_dispatched"
    assert "call reminder to the rep" in r["answer"] and "was sent at 14:00 UTC" in r["answer"]


async def test_an_account_shows_stakeholders_by_role_and_committee_coverage(api: Api) -> None:
    ana = (await api.get(f"/v1/contacts/{await api.contact_id('ana')}")).json()
    r = await api.get(f"/v1/accounts/{ana['account_id']}", "read")
    assert r.status_code == 200, r.text
    acc = r.json()
    assert {role: [p["email"].split("@")[0] for p in people]
            for role, people in acc["stakeholders"].items()} == {
        "technical": ["ana"], "finance": ["bob"]}  # fmt: skip
    committee = acc["committee"]
    assert committee["roles"] == ["user", "manager", "finance", "technical", "executive"]
    assert "technical" in committee["covered"]
    assert set(committee["covered"]) | set(committee["missing"]) == set(committee["roles"])
    assert committee["coverage"] == len(committee["covered"]) / 5
    assert acc["stage_history"] and acc["stage"] == acc["stage_history"][-1]["to_stage"]
    listed = (await api.get("/v1/accounts", "read")).json()["items"]
    assert len(listed) == 2
    assert (await api.get("/v1/accounts/nope", "read")).json()["detail"]["account"] == "nope"


# --- touches: filters and pagination ---------------------------------------------------------


async def test_touches_filter_by_status_reason_channel_and_time_and_page_with_cursors(
    api: Api,
) -> None:
    everything = (await api.get("/v1/touches", "read", limit=500)).json()
    assert everything["next_cursor"] is None
    all_ids = [t["id"] for t in everything["items"]]
    assert len(all_ids) >= 5
    skipped = (await api.get("/v1/touches", status="skipped", reason="STAGE_EXITED")).json()
    assert skipped["items"] and all(
        (t["status"], t["reason"]) == ("skipped", "STAGE_EXITED") for t in skipped["items"]
    )
    calls = (await api.get("/v1/touches", channel="rep_call_reminder")).json()["items"]
    assert {t["status"] for t in calls} == {"dispatched"} and len(calls) == 2
    later = (await api.get("/v1/touches", since=(T + timedelta(days=1)).isoformat())).json()
    assert later["items"] and all(t["due_at"] >= "2026-11-19" for t in later["items"])

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/v1/touches", "read", **params)).json()
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == all_ids  # every touch once, in the same order


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"channel": "pigeon"}, "channel"),
        ({"limit": 501}, "limit"),
        ({"since": "2026-11-18T10:00:00"}, "since"),  # no time zone
        ({"since": "2026-11-18T10:00:00Z", "until": "2026-11-18T09:00:00Z"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_a_bad_filter_gets_422_naming_the_field(
    api: Api, params: dict[str, Any], field: str
) -> None:
    r = await api.get("/v1/touches", "read", **params)
    assert r.status_code == 422, r.text
    assert [e["loc"][-1] for e in r.json()["detail"]] == [field]


# --- reminders: by key and by signed link ----------------------------------------------------


async def _command_for(api: Api, reminder_id: str) -> dict[str, Any]:
    records = await read_topic(
        api.settings.bootstrap_servers, REMINDERS,
        lambda rs: any(orjson.loads(r.value)["touch_id"] == reminder_id for r in rs),
    )  # fmt: skip
    (cmd,) = [c for r in records if (c := orjson.loads(r.value))["touch_id"] == reminder_id]
    return dict(cmd)


async def _links_sent_for(api: Api, reminder_id: str) -> dict[str, str]:
    cmd = await _command_for(api, reminder_id)
    return {k: v for k, v in cmd["variables"].items() if k.endswith("_url")}


async def test_the_reminder_the_scheduler_sends_tells_the_accounts_story(api: Api) -> None:
    variables = (await _command_for(api, (await _reminder_of(api, REP1))["id"]))["variables"]
    account = variables["account"]
    assert float(account["score"]) > 0
    assert account["coverage"].startswith("committee: ") and "technical" in account["coverage"]
    assert any("Bob" in str(c) for c in variables["colleagues"])  # engaged at the same account
    assert variables["rep"]["email"] == REP1


async def test_a_rep_acknowledges_snoozes_and_completes_with_a_key(api: Api) -> None:
    rid = (await _reminder_of(api, REP1))["id"]
    r = await api.post(f"/v1/reminders/{rid}/acknowledge", "rep1")
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    r = await api.post(f"/v1/reminders/{rid}/snooze", "rep1", minutes=90)
    assert r.json()["status"] == "snoozed"
    until = datetime.fromisoformat(r.json()["snoozed_until"])
    assert until == api.clock.now + timedelta(minutes=90)
    assert (await api.post(f"/v1/reminders/{rid}/snooze", "rep1", minutes=0)).status_code == 422
    r = await api.post(f"/v1/reminders/{rid}/complete", "admin")
    assert r.status_code == 200 and r.json()["status"] == "done"
    again = await api.post(f"/v1/reminders/{rid}/acknowledge", "rep1")
    assert again.status_code == 409 and "done" in again.json()["detail"]["message"]
    assert (await api.post("/v1/reminders/r_nope/complete", "admin")).status_code == 404
    timeline = (await api.get(f"/v1/contacts/{await api.contact_id('ana')}/timeline")).json()
    kinds = {i["kind"] for i in timeline["items"]}
    assert {"reminder_acknowledged", "reminder_snoozed", "reminder_done"} <= kinds


async def test_the_links_in_the_reminder_message_work_without_a_key_and_only_for_it(
    api: Api,
) -> None:
    mine, theirs = await _reminder_of(api, REP1), await _reminder_of(api, REP2)
    urls = await _links_sent_for(api, mine["id"])
    assert set(urls) == {"ack_url", "snooze_url", "contact_url", "account_url"}
    assert urls["contact_url"] == f"{api.base}/ui/contacts/{mine['contact_id']}"
    ack = urls["ack_url"]
    assert ack.startswith(f"{api.base}/v1/reminders/{mine['id']}/acknowledge?token=")

    landing = await api.http.get(ack)  # what a link preview or a mail scanner fetches
    assert landing.status_code == 200 and landing.json()["action"] == "acknowledge"
    assert landing.json()["confirm"]["url"] == ack.removeprefix(api.base)
    page = await api.http.get(ack, headers={"accept": "text/html"})
    assert '<form method="post"' in page.text
    assert (await _reminder_of(api, REP1))["status"] == "open"  # GET changes nothing

    token = parse_qs(urlsplit(ack).query)["token"][0]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for path, tok in (
        (f"/v1/reminders/{mine['id']}/acknowledge", forged),
        (f"/v1/reminders/{theirs['id']}/acknowledge", token),  # another reminder
        (f"/v1/reminders/{mine['id']}/complete", token),  # another action
    ):
        r = await api.http.post(path, params={"token": tok})
        assert r.status_code == 403, r.text
        assert "not valid" in r.json()["detail"]["message"]
    assert (await api.http.post(f"/v1/reminders/{mine['id']}/acknowledge")).status_code == 401

    assert (await api.http.post(ack)).json()["status"] == "acknowledged"
    r = await api.http.post(urls["snooze_url"])
    assert r.status_code == 200 and r.json()["status"] == "snoozed"
    assert (await _reminder_of(api, REP1))["status"] == "snoozed"

    api.clock.now += timedelta(days=8)  # links last seven days
    r = await api.http.post(ack)
    assert r.status_code == 403 and "expired" in r.json()["detail"]["message"]
    assert (await _reminder_of(api, REP2))["status"] == "open"


# --- consent ---------------------------------------------------------------------------------


async def test_recording_consent_appends_to_the_ledger_and_answers_the_current_state(
    api: Api,
) -> None:
    bob = await api.contact_id("bob")  # at acme, whose owner is rep1
    body = {"channel": "email", "status": "granted", "method": "form",
            "evidence": "asked for the newsletter"}  # fmt: skip
    r = await api.post(f"/v1/contacts/{bob}/consent", "rep1", body)
    assert r.status_code == 201, r.text
    assert r.json()["channels"]["email"]["allowed"] is True
    assert r.json()["channels"]["email"]["source"] == "ops-api"
    async with api.engine.connect() as conn:
        (row,) = (
            await conn.execute(select(consent_ledger).where(consent_ledger.c.contact_id == bob))
        ).all()
    assert (row.channel, row.status, row.source, row.actor) == (
        "email", "granted", "ops-api", "operator"
    )  # fmt: skip
    assert row.evidence.startswith("method=form; evidence=asked for the newsletter [key rep1")
    withdrawn = {"channel": "email", "status": "withdrawn"}  # no evidence needed to stop
    r = await api.post(f"/v1/contacts/{bob}/consent", "admin", withdrawn)
    assert r.json()["channels"]["email"]["allowed"] is False
    assert len(r.json()["ledger"]) == 2
    why = (await api.get(f"/v1/contacts/{bob}/why")).json()
    assert f"withdrew consent for email on {api.clock.now:%d %b %Y} (ops-api)" in why["answer"]

    bad = await api.post(f"/v1/contacts/{bob}/consent", "admin", body | {"channel": "fax"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "channel"]
    bad = await api.post(f"/v1/contacts/{bob}/consent", "admin", body | {"evidence": ""})
    assert bad.json()["detail"][0]["loc"] == ["body", "evidence"]
    bare = {"channel": "sms", "status": "granted"}
    bad = await api.post(f"/v1/contacts/{bob}/consent", "rep1", bare)
    assert bad.status_code == 422 and "evidence" in str(bad.json()["detail"])
    missing = await api.post("/v1/contacts/c_nobody/consent", "admin", body)
    assert missing.status_code == 404 and missing.json()["detail"]["contact"] == "c_nobody"


async def test_a_rep_key_records_consent_only_for_its_own_contacts(api: Api) -> None:
    bob, cy = await api.contact_id("bob"), await api.contact_id("cy")  # rep1's, rep2's
    grant = {"channel": "sms", "status": "granted", "method": "call", "evidence": "said yes"}
    others = await api.post(f"/v1/contacts/{cy}/consent", "rep1", grant)
    assert others.status_code == 403 and "owns" in others.json()["detail"]["message"]
    stop = await api.post(f"/v1/contacts/{bob}/consent", "rep2", {**grant, "status": "withdrawn"})
    assert stop.status_code == 403
    own = await api.post(f"/v1/contacts/{cy}/consent", "rep2", grant)
    assert own.status_code == 201
    async with api.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(consent_ledger.c.contact_id, consent_ledger.c.source)
                .where(consent_ledger.c.contact_id.in_([bob, cy]))
                .order_by(consent_ledger.c.id)
            )
        ).all()
    # the seed's opt-in of Cy, then rep2's grant: the refused attempts wrote nothing
    assert [tuple(r) for r in rows] == [(cy, "test"), (cy, "ops-api")]


async def test_an_operator_grant_after_the_recipients_opt_out_is_refused_and_kept(
    api: Api,
) -> None:
    bob = await api.contact_id("bob")
    stop = Suppression(bob, SuppressionKind.UNSUBSCRIBED, "outcome:unsubscribed", "one-click",
                       api.clock.now - timedelta(minutes=5))  # fmt: skip
    async with api.engine.begin() as conn:
        await consent_store.record(conn, [consent_store.LedgerRow(stop, "o-1")])
    grant = {"channel": "email", "status": "granted", "method": "call", "evidence": "said yes"}
    r = await api.post(f"/v1/contacts/{bob}/consent", "admin", grant)
    assert r.status_code == 409, r.text
    assert r.json()["refusal"] == "recipient_opted_out"
    assert r.json()["consent"]["channels"]["email"]["allowed"] is False
    async with api.engine.connect() as conn:
        statuses = (
            await conn.execute(
                select(consent_ledger.c.status, consent_ledger.c.refusal)
                .where(consent_ledger.c.contact_id == bob)
                .order_by(consent_ledger.c.id)
            )
        ).all()
    assert [tuple(s) for s in statuses] == [
        ("unsubscribed", None), ("refused", "recipient_opted_out")
    ]  # fmt: skip


# --- funnel ----------------------------------------------------------------------------------


async def test_funnel_numbers_match_a_history_computed_by_hand(api: Api) -> None:
    """The same small history as the unit test, stored as stage_history rows of one account."""
    d0 = datetime(2026, 11, 1, tzinfo=UTC)
    history = [
        ("a", "awareness", -5), ("a", "engaged", 1), ("a", "mql", 4), ("a", "sql", 8),
        ("b", "awareness", 2), ("b", "engaged", 6), ("c", "awareness", 3), ("c", "mql", 5),
        ("d", "awareness", -10), ("d", "engaged", -2), ("e", "awareness", 12),
    ]  # fmt: skip
    async with api.engine.begin() as conn:
        await conn.execute(
            accounts.insert().values(
                id="acc_f", stage="mql", traits={}, state={}, created_at=d0, updated_at=d0
            )
        )
        await conn.execute(
            contacts.insert(),
            [
                {
                    "id": f"f_{s}",
                    "account_id": "acc_f",
                    "stage": "engaged",
                    "traits": {},
                    "state": {},
                    "created_at": d0,
                    "updated_at": d0,
                }
                for s in "abcde"
            ],
        )
        await conn.execute(
            stage_history.insert(),
            [
                {
                    "subject_kind": "contact",
                    "subject_id": f"f_{s}",
                    "to_stage": stage,
                    "reason": "evidence",
                    "occurred_at": d0 + timedelta(days=n),
                    "playbook_version": "t",
                }
                for s, stage, n in history
            ],
        )
        await conn.execute(stage_history.insert().values(
            subject_kind="account", subject_id="acc_f", to_stage="engaged", reason="evidence",
            occurred_at=d0 + timedelta(days=2), playbook_version="t"))  # fmt: skip
    r = await api.get("/v1/funnel", "read", since=d0.isoformat(),
                      until=(d0 + timedelta(days=10)).isoformat(), account_id="acc_f")  # fmt: skip
    assert r.status_code == 200, r.text
    people = r.json()["contacts"]
    assert {s: n for s, n in people["in_stage"].items() if n} == {"engaged": 2, "mql": 1, "sql": 1}
    assert {s: n for s, n in people["entered"].items() if n} == {
        "awareness": 2, "engaged": 2, "mql": 2, "sql": 1}  # fmt: skip
    rates = {(c["from"], c["to"]): c["rate"] for c in people["conversion"]}
    assert rates[("awareness", "engaged")] == 1.0 and rates[("engaged", "mql")] == 0.5
    assert rates[("mql", "sql")] == 0.5 and rates[("opportunity", "onboarding")] is None
    assert people["median_days_in_stage"]["awareness"] == 4.0
    assert people["velocity"] == {
        "forward_moves_per_day": 0.5,
        "median_days_to_reach": people["velocity"]["median_days_to_reach"],
    }
    assert people["velocity"]["median_days_to_reach"]["mql"] == 5.5
    assert r.json()["accounts"]["in_stage"]["engaged"] == 1
    everyone = (await api.get("/v1/funnel", since=d0.isoformat())).json()
    assert sum(everyone["contacts"]["in_stage"].values()) >= 7  # ana, bob, cy and a-d

    assert (await api.get("/v1/funnel", account_id="nope")).status_code == 404
    r = await api.get("/v1/funnel", since=d0.isoformat(), until=d0.isoformat())
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "until"]


# --- sources ---------------------------------------------------------------------------------


async def test_an_admin_manages_sources_and_secrets_are_shown_only_once(api: Api) -> None:
    r = await api.post("/v1/sources", "admin", {"name": "crm-hooks", "kind": "webhook"})
    assert r.status_code == 201, r.text
    secret = r.json()["webhook_secret"]
    source = r.json()["source"]
    assert secret.startswith("whsec_") and source["webhook_url_path"].endswith(source["id"])
    listed = (await api.get("/v1/sources")).text
    assert secret not in listed and "crm-hooks" in listed
    again = await api.post("/v1/sources", "admin", {"name": "crm-hooks"})
    assert again.status_code == 409 and "crm-hooks" in again.json()["detail"]["message"]
    rotated = (await api.post("/v1/sources/crm-hooks/rotate", "admin")).json()
    assert rotated["webhook_secret"] != secret and rotated["source"]["active_secrets"] == 2
    sdk = (await api.post("/v1/sources", "admin", {"name": "web", "rate_limit_per_s": 5})).json()
    assert sdk["write_key"].startswith("wk_")
    r = await api.post("/v1/sources/web/disable", "admin")
    assert r.json()["disabled"] is True
    assert (await api.post("/v1/sources/nope/rotate", "admin")).status_code == 404
    bad = await api.post("/v1/sources", "admin", {"name": "has space"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "name"]


async def test_the_decision_log_filters_and_pages_newest_first(api: Api) -> None:
    bob = await api.contact_id("bob")
    r = await api.get(
        "/v1/decisions", "read", kind="touch_not_planned", reason="NO_CONSENT", contact_id=bob
    )
    steps = r.json()["items"]
    assert len(steps) == 3 and {d["facts"]["channel"] for d in steps} == {"email"}
    assert {d["facts"]["step"] for d in steps} == {
        "problem-framing", "industry-report", "how-others-solve"
    }  # fmt: skip
    everything = [d["id"] for d in (await api.get("/v1/decisions", limit=500)).json()["items"]]
    seen: list[int] = []
    cursor = None
    while True:
        page = await api.get("/v1/decisions", limit=7, **({"cursor": cursor} if cursor else {}))
        seen += [d["id"] for d in page.json()["items"]]
        if (cursor := page.json()["next_cursor"]) is None:
            break
    assert seen == everything and len(seen) > 7
    touches_cursor = (await api.get("/v1/touches", limit=1)).json()["next_cursor"]
    wrong = await api.get("/v1/decisions", cursor=touches_cursor)  # a cursor of another list
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "cursor"]
