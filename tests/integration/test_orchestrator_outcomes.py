"""Delivery outcomes through the real broker change consent at once, exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel as WireChannel
from schemas.events import EngagementEvent
from schemas.outcomes import OutcomeStatus, TouchOutcome
from schemas.topics import ENGAGEMENT, OUTCOMES, dead_letter
from services.orchestrator.adapters import consent_store
from services.orchestrator.adapters.tables import consent_ledger, contacts, decisions
from services.orchestrator.domain.channels import Channel
from services.orchestrator.settings import OrchestratorSettings
from tests.probes import eventually, produce, read_topic
from trellis.kafka import encode

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def outcome(contact: str, status: OutcomeStatus, channel: WireChannel, **kw: object) -> bytes:
    return encode(
        TouchOutcome(
            id=f"o-{uuid.uuid4().hex}",
            touch_id=f"t-{uuid.uuid4().hex[:8]}",
            contact_id=contact,
            channel=channel,
            status=status,
            occurred_at=AT,
            **kw,  # type: ignore[arg-type]
        )
    )


async def _ledger_rows(engine: AsyncEngine, contact: str) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count())
                .select_from(consent_ledger)
                .where(consent_ledger.c.contact_id == contact)
            )
            or 0
        )


async def test_unsubscribe_stop_and_hard_bounce_suppress_their_channels_once(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    ana, bo, cy = (f"c_{uuid.uuid4().hex[:10]}" for _ in range(3))
    unsubscribe = outcome(ana, OutcomeStatus.UNSUBSCRIBED, WireChannel.EMAIL)
    items = [
        unsubscribe,
        unsubscribe,  # redelivered: applied once
        outcome(bo, OutcomeStatus.STOP, WireChannel.SMS),
        outcome(cy, OutcomeStatus.BOUNCED, WireChannel.EMAIL, detail="550 no such user"),
        outcome(cy, OutcomeStatus.BOUNCED, WireChannel.EMAIL, retryable=True),  # soft: no effect
        outcome(cy, OutcomeStatus.SENT, WireChannel.EMAIL),
    ]
    await produce(orchestrator.bootstrap_servers, OUTCOMES, [(b"k", i) for i in items])
    await eventually(lambda: _ledger_rows(engine, cy), lambda n: n == 1)
    await eventually(lambda: _ledger_rows(engine, ana), lambda n: n == 1)
    async with engine.connect() as conn:
        ledgers = await consent_store.load(conn, [ana, bo, cy])
        logged = await conn.scalar(
            select(func.count()).select_from(decisions).where(decisions.c.contact_id == cy)
        )
    later = datetime(2026, 11, 21, tzinfo=UTC)
    assert not ledgers[ana].allows(Channel.EMAIL, later)
    assert not ledgers[bo].allows(Channel.SMS, later)
    assert not ledgers[cy].allows(Channel.EMAIL, later)
    assert ledgers[cy].suppression(Channel.EMAIL, later).kind.value == "hard_bounce"  # type: ignore[union-attr]
    assert logged == 3, "every outcome is in the decision log, the soft bounce included"


async def test_an_unreadable_outcome_goes_to_the_dead_letter_topic(
    orchestrator: OrchestratorSettings,
) -> None:
    marker = uuid.uuid4().hex.encode()
    await produce(orchestrator.bootstrap_servers, OUTCOMES, [(b"k", b'{"status": "' + marker)])
    dlq = await read_topic(
        orchestrator.bootstrap_servers,
        dead_letter(OUTCOMES),
        lambda recs: any(marker in (r.value or b"") for r in recs),
    )
    assert any(marker in (r.value or b"") for r in dlq)


async def test_consent_events_from_producers_land_in_the_ledger_and_the_latest_wins(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    import orjson

    from schemas.topics import ENGAGEMENT
    from services.orchestrator.domain.identity import stable_id

    who = f"u-{uuid.uuid4().hex[:8]}"
    base = {"source": "crm", "contact": {"external_id": who}}
    events = [
        {**base, "id": f"{who}-1", "type": "consent_given", "time": "2026-11-01T10:00:00Z",
         "properties": {"channel": "sms", "method": "double_opt_in"}},
        {**base, "id": f"{who}-2", "type": "consent_withdrawn", "time": "2026-11-03T10:00:00Z",
         "properties": {"channel": "sms"}},
    ]  # fmt: skip
    # delivered out of order: the withdrawal first
    await produce(
        orchestrator.bootstrap_servers,
        ENGAGEMENT,
        [(b"c:" + who.encode(), orjson.dumps(e)) for e in reversed(events)],
    )
    contact = stable_id("c_", "ext:" + who)
    await eventually(lambda: _ledger_rows(engine, contact), lambda n: n == 2)
    async with engine.connect() as conn:
        ledger = (await consent_store.load(conn, [contact]))[contact]
    assert ledger.allows(Channel.SMS, datetime(2026, 11, 2, tzinfo=UTC))
    assert not ledger.allows(Channel.SMS, datetime(2026, 11, 4, tzinfo=UTC))


async def test_sms_keywords_keyed_by_phone_reach_every_contact_with_that_number(
    orchestrator: OrchestratorSettings, engine: AsyncEngine
) -> None:
    phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
    tag = uuid.uuid4().hex[:8]
    people = [
        encode(
            EngagementEvent.model_validate(
                {
                    "id": f"{tag}-{who}",
                    "type": "page_viewed",
                    "source": "test",
                    "time": AT,
                    "contact": {"external_id": f"{tag}-{who}", "traits": {"phone": phone}},
                    "properties": {"path": "/"},
                }
            )
        )
        for who in ("ana", "bo")
    ]
    await produce(orchestrator.bootstrap_servers, ENGAGEMENT, [(b"k", p) for p in people])

    async def owners() -> list[str]:
        async with engine.connect() as conn:
            phone_of = contacts.c.traits["phone"].as_string()
            return list(await conn.scalars(select(contacts.c.id).where(phone_of == phone)))

    ids = await eventually(owners, lambda found: len(found) == 2)
    stop = encode(
        TouchOutcome(
            id=f"o-{uuid.uuid4().hex}",
            contact_id=phone,
            channel=WireChannel.SMS,
            status=OutcomeStatus.STOP,
            occurred_at=AT,
        )
    )
    await produce(orchestrator.bootstrap_servers, OUTCOMES, [(phone.encode(), stop)])
    await eventually(lambda: _ledger_rows(engine, ids[1]), lambda n: n == 1)
    later = datetime(2026, 11, 21, tzinfo=UTC)
    async with engine.connect() as conn:
        ledgers = await consent_store.load(conn, ids)
    assert all(not ledgers[c].allows(Channel.SMS, later) for c in ids)
    assert all(ledgers[c].suppression(Channel.SMS, later) is not None for c in ids)

    start = TouchOutcome(
        id=f"o-{uuid.uuid4().hex}", contact_id=phone, channel=WireChannel.SMS,
        status=OutcomeStatus.START, occurred_at=datetime(2026, 11, 20, 13, tzinfo=UTC),
    )  # fmt: skip
    await produce(orchestrator.bootstrap_servers, OUTCOMES, [(phone.encode(), encode(start))])
    await eventually(lambda: _ledger_rows(engine, ids[0]), lambda n: n == 2)
    async with engine.connect() as conn:
        ledgers = await consent_store.load(conn, ids)
    assert all(ledgers[c].allows(Channel.SMS, later) for c in ids), "START lifts the STOP"
    assert await _ledger_rows(engine, phone) == 0, "nothing is kept under the number itself"
