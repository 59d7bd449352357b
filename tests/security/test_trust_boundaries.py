"""Who may say what, tried as an attacker with an ordinary SDK key (public: it sits in web pages)
and with a producer's own key, through the real ingest app, the real broker and the real
orchestrator consumer, on SQLite and PostgreSQL: the recipient's opt-out stays in force, owners
stay reps, and nobody but a provider suppresses a contact."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.confirm import confirmation_url
from services.ingest.settings import IngestSettings
from services.ingest.twilio import twilio_signature
from services.notifier.unsubscribe import UnsubscribeSigner
from services.orchestrator.adapters import consent_store
from services.orchestrator.adapters.tables import consent_ledger, contacts, decisions, reminders
from services.orchestrator.domain.channels import Channel
from services.orchestrator.main import run
from services.orchestrator.settings import OrchestratorSettings
from tests.integration.ingest_server import add_source, basic, running_ingest
from tests.probes import eventually
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings
from trellis.sources import SourceKind

SECRET = "test-unsubscribe-secret"
TOKEN = "test-auth-token"
REP = "owner@x.example"


@pytest.fixture
async def orchestrator(settings: TrellisSettings) -> AsyncIterator[OrchestratorSettings]:
    """The real orchestrator consumer, reps at ``x.example``, in a group of its own."""
    own = OrchestratorSettings(
        **settings.model_dump(),
        orchestrator_group=f"orc-{uuid.uuid4().hex}",
        rep_domains="x.example",
        ops_serve=False,
    )
    await ensure_topics(own)
    stop = asyncio.Event()
    task = asyncio.create_task(run(own, stop))
    yield own
    stop.set()
    await asyncio.wait_for(task, 30)


def _ingest(settings: TrellisSettings) -> IngestSettings:
    return IngestSettings(
        **{
            **settings.model_dump(),
            "kafka_idempotence": False,
            "unsubscribe_secret": SECRET,
            "sms_auth_token": TOKEN,
        }
    )


class World:
    """One contact, the keys of every kind, and the ingest server."""

    def __init__(self, http: httpx.AsyncClient, url: str, keys: dict[SourceKind, str]) -> None:
        self.http, self.url, self.keys = http, url, keys
        tag = uuid.uuid4().hex[:10]
        self.tag = tag
        self.email = f"v-{tag}@acme.example"
        self.phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
        self.n = 0

    def event(self, event_type: str, **properties: Any) -> dict[str, Any]:
        self.n += 1
        return {
            "id": f"{self.tag}-{self.n}",
            "type": event_type,
            "source": "attacker" if event_type != "page_viewed" else "web",
            "time": datetime.now(UTC).isoformat(),
            "contact": {"email": self.email, "traits": {"phone": self.phone}},
            "account": {"domain": "acme.example"},
            "properties": properties,
        }

    async def post(self, kind: SourceKind, event: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/v1/events", json=event, headers=basic(self.keys[kind]))

    async def sms(self, body: str, **extra: str) -> httpx.Response:
        form = {"From": self.phone, "To": "+15550000000", "Body": body,
                "MessageSid": f"SM{uuid.uuid4().hex}", **extra}  # fmt: skip
        signature = twilio_signature(TOKEN, f"{self.url}/v1/sms/inbound", form.items())
        return await self.http.post(
            "/v1/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
        )


@pytest.fixture
async def world(settings: TrellisSettings) -> AsyncIterator[World]:
    ingest = _ingest(settings)
    keys = {
        kind: (await add_source(ingest, f"{kind.value}-{uuid.uuid4().hex[:6]}", kind)).credential
        for kind in SourceKind
    }
    async with running_ingest(ingest) as url, httpx.AsyncClient(base_url=url) as http:
        yield World(http, url, keys)


async def _contact_id(engine: AsyncEngine, email: str) -> str:
    async def probe() -> str | None:
        async with engine.connect() as conn:
            found: str | None = await conn.scalar(
                select(contacts.c.id).where(contacts.c.email == email)
            )
            return found

    found = await eventually(probe, lambda c: c is not None)
    assert found is not None
    return found


async def _allows(engine: AsyncEngine, contact_id: str) -> dict[Channel, bool]:
    async with engine.connect() as conn:
        ledger = (await consent_store.load(conn, [contact_id]))[contact_id]
    now = datetime.now(UTC)
    return {c: ledger.allows(c, now) for c in (Channel.EMAIL, Channel.SMS)}


async def _ledger_statuses(engine: AsyncEngine, contact_id: str) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(consent_ledger.c.status, consent_ledger.c.channel)
            .where(consent_ledger.c.contact_id == contact_id)
            .order_by(consent_ledger.c.id)
        )
        return [(r.status, r.channel) for r in rows]


def _evidence() -> dict[str, str]:
    return {"method": "form", "form": "newsletter", "ip": "203.0.113.9"}


async def test_a_recipients_opt_out_is_lifted_only_by_their_own_verified_act(
    orchestrator: OrchestratorSettings, engine: AsyncEngine, world: World
) -> None:
    both = [SourceKind.CONSENT]
    granted = [
        await world.post(both[0], world.event("consent_given", channel=c, **_evidence()))
        for c in ("email", "sms")
    ]
    assert [r.status_code for r in granted] == [202, 202], granted[0].text
    contact = await _contact_id(engine, world.email)
    await eventually(lambda: _allows(engine, contact), lambda a: all(a.values()))

    # The recipient opts out: one-click unsubscribe, and STOP by SMS (signed by the provider).
    token = UnsubscribeSigner(SECRET.encode(), "").token(contact, datetime.now(UTC))
    unsubscribed = await world.http.post(f"/v1/unsubscribe?token={token}")
    stopped = await world.sms("STOP", OptOutType="STOP")
    assert [unsubscribed.status_code, stopped.status_code] == [200, 200]
    await eventually(lambda: _allows(engine, contact), lambda a: not any(a.values()))

    # Attacks: an SDK key asserting consent (native, CloudEvents), a provider's outcome by a
    # producer, and a consent source's grant after the recipient's opt-out.
    forged = [
        await world.post(SourceKind.SDK, world.event("consent_given", channel=c, **_evidence()))
        for c in ("email", "sms")
    ]
    cloud = await world.http.post(
        "/v1/cloudevents",
        json={"specversion": "1.0", "id": f"{world.tag}-ce", "type": "consent_given",
              "source": "site", "time": datetime.now(UTC).isoformat(),
              "data": {"contact": {"email": world.email},
                       "properties": {"channel": "email", **_evidence()}}},
        headers={**basic(world.keys[SourceKind.SDK]),
                 "content-type": "application/cloudevents+json"},
    )  # fmt: skip
    complained = await world.http.post(
        "/v1/email/status",
        json={"id": f"{world.tag}-c", "contact_id": contact, "status": "complained"},
        headers=basic(world.keys[SourceKind.SDK]),
    )
    assert [r.status_code for r in forged] == [403, 403]
    assert forged[0].json()["event_type"] == "consent_given"
    assert forged[0].json()["allowed_kinds"] == ["consent"]
    assert cloud.status_code == 403 and cloud.json()["allowed_kinds"] == ["consent"]
    assert complained.status_code == 403 and "provider" in complained.json()["detail"]

    regrant = [
        await world.post(SourceKind.CONSENT, world.event("consent_given", channel=c, **_evidence()))
        for c in ("email", "sms")
    ]
    assert [r.status_code for r in regrant] == [202, 202]  # accepted, then refused in the ledger
    await eventually(
        lambda: _ledger_statuses(engine, contact),
        lambda rows: {("refused", "email"), ("refused", "sms")} <= set(rows),
    )
    assert await _allows(engine, contact) == {Channel.EMAIL: False, Channel.SMS: False}
    async with engine.connect() as conn:
        refusals = set(
            (
                await conn.execute(
                    select(consent_ledger.c.refusal).where(consent_ledger.c.status == "refused")
                    .where(consent_ledger.c.contact_id == contact)
                )
            ).scalars()
        )  # fmt: skip
    assert refusals == {"recipient_opted_out"}

    # The recipient's own acts: SMS START (signed), then the double-opt-in link, clicked.
    started = await world.sms("START")
    assert started.status_code == 200
    await eventually(lambda: _allows(engine, contact), lambda a: a[Channel.SMS])
    assert not (await _allows(engine, contact))[Channel.EMAIL]
    link = confirmation_url(world.url, SECRET.encode(), contact, "email", datetime.now(UTC))
    page = await world.http.get(link)  # a scanner prefetching the link changes nothing
    assert page.status_code == 200 and "<form method='post'" in page.text
    await asyncio.sleep(0.5)
    assert not (await _allows(engine, contact))[Channel.EMAIL]
    confirmed = await world.http.post(link)
    assert confirmed.status_code == 200
    await eventually(lambda: _allows(engine, contact), lambda a: all(a.values()))


async def test_a_forged_confirmation_link_or_one_for_another_contact_is_refused(
    world: World,
) -> None:
    now = datetime.now(UTC)
    genuine = confirmation_url(world.url, SECRET.encode(), "c_victim", "email", now)
    other_secret = confirmation_url(world.url, b"guessed", "c_victim", "email", now)
    as_unsubscribe = UnsubscribeSigner(SECRET.encode(), "").token("c_victim|email", now)
    value, _, signature = genuine.partition("token=")[2].partition(".")
    claims = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).replace(b"victim", b"other")
    forged_value = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    edited = f"{world.url}/v1/consent/confirm?token={forged_value}.{signature}"
    answers = [
        (await world.http.post(u)).status_code
        for u in (other_secret, f"{world.url}/v1/consent/confirm?token={as_unsubscribe}", edited)
    ]
    assert answers == [403, 403, 403]
    assert (await world.http.post(f"{world.url}/v1/consent/confirm")).status_code == 400
    assert (await world.http.post(genuine)).status_code == 200  # the untouched link works


async def _owner(engine: AsyncEngine, contact_id: str) -> str | None:
    async with engine.connect() as conn:
        owner: str | None = await conn.scalar(
            select(contacts.c.owner_rep).where(contacts.c.id == contact_id)
        )
        return owner


async def _decision_reasons(engine: AsyncEngine, contact_id: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(decisions.c.reason).where(decisions.c.contact_id == contact_id)
        )
        return [str(r) for r in rows.scalars()]


async def test_reminders_never_go_to_an_owner_who_is_not_a_rep(
    orchestrator: OrchestratorSettings, engine: AsyncEngine, world: World
) -> None:
    genuine = await world.post(
        SourceKind.CRM, world.event("crm_owner_changed", owner_id="7", owner_email=REP)
    )
    assert genuine.status_code == 202, genuine.text
    contact = await _contact_id(engine, world.email)
    await eventually(lambda: _owner(engine, contact), lambda o: o == REP)

    attack = world.event("crm_owner_changed", owner_id="8", owner_email="attacker@evil.example")
    from_sdk = await world.post(SourceKind.SDK, attack)
    assert from_sdk.status_code == 403 and from_sdk.json()["allowed_kinds"] == ["crm"]
    from_crm = await world.post(SourceKind.CRM, attack)
    assert from_crm.status_code == 202
    await eventually(
        lambda: _decision_reasons(engine, contact), lambda reasons: "OWNER_NOT_A_REP" in reasons
    )
    assert await _owner(engine, contact) == REP

    demo = await world.post(SourceKind.SDK, world.event("demo_requested"))
    assert demo.status_code == 202

    async def reps() -> list[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(reminders.c.rep).where(reminders.c.contact_id == contact)
            )
            return list(rows.scalars())

    assert await eventually(reps, bool) == [REP]
