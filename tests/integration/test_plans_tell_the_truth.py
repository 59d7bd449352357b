"""What the ops API shows as planned is what will be sent if nothing changes: through the real
handlers (engagement batches, outcomes) on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, decisions, touches
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.ops import queries
from services.orchestrator.outcomes import apply_outcomes
from services.orchestrator.people import Nurture
from tests.probes import StoredRecord

TUESDAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NURTURE = Nurture(default_nurture(), ("pool@x.example",), ("x.example",))
EVIDENCE = {"method": "form", "form": "signup"}


class Customer:
    def __init__(self, who: str) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.who = who
        self.email = f"{who}@{self.tag}.example"
        self.phone = f"+1555{uuid.uuid4().int % 10**7:07d}"
        self.n = 0

    def event(self, kind: str, at: datetime, **props: Any) -> StoredRecord:
        self.n += 1
        value = orjson.dumps({
            "id": f"{self.tag}-{self.n}", "type": kind, "source": "test",
            "time": at.isoformat(),
            "contact": {"external_id": f"{self.tag}-{self.who}", "email": self.email,
                        "traits": {"phone": self.phone, "role": "manager",
                                   "timezone": "Asia/Kolkata"}},
            "account": {"external_id": f"acc-{self.tag}", "domain": f"{self.tag}.example"},
            "properties": props,
        })  # fmt: skip
        return StoredRecord("trellis.engagement.v1", 0, self.n, value)

    def outcome(self, status: str, contact_id: str, at: datetime) -> StoredRecord:
        self.n += 1
        value = orjson.dumps({
            "id": f"{self.tag}-o{self.n}", "contact_id": contact_id, "channel": "sms",
            "status": status, "occurred_at": at.isoformat(),
        })  # fmt: skip
        return StoredRecord("trellis.outcomes.v1", 0, self.n, value)


async def _apply(engine: AsyncEngine, records: list[StoredRecord], now: datetime) -> None:
    await apply_engagement(records, engine, default_playbook(), lambda: now, nurture=NURTURE)


async def _contact(engine: AsyncEngine, c: Customer) -> str:
    async with engine.connect() as conn:
        found = await conn.scalar(select(contacts.c.id).where(contacts.c.email == c.email))
    assert found is not None
    return str(found)


async def _touches(engine: AsyncEngine, contact_id: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(touches.c.id, touches.c.sequence_step, touches.c.channel,
                   touches.c.status, touches.c.reason)
            .where(touches.c.contact_id == contact_id)
        )  # fmt: skip
        return list(rows)


async def _decisions(engine: AsyncEngine, contact_id: str, kind: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(decisions.c.reason, decisions.c.facts, decisions.c.event_id).where(
                decisions.c.contact_id == contact_id, decisions.c.kind == kind
            )
        )
        return list(rows)


async def test_a_contact_who_never_opted_in_has_nothing_planned_and_each_step_says_why(
    engine: AsyncEngine,
) -> None:
    c = Customer("nora")
    await _apply(engine, [c.event("page_viewed", TUESDAY, path="/blog")], TUESDAY)
    cid = await _contact(engine, c)
    assert [t for t in await _touches(engine, cid) if t.channel == "email"] == []
    left_out = await _decisions(engine, cid, "touch_not_planned")
    assert sorted(r.facts["step"] for r in left_out) == [
        "how-others-solve", "industry-report", "problem-framing"
    ]  # fmt: skip
    assert {r.reason for r in left_out} == {"NO_CONSENT"}
    async with engine.connect() as conn:
        why = await queries.why(conn, cid, now=TUESDAY)
    assert why is not None and why["sent"] is False
    assert "has not opted in to email" in why["answer"] and "was not planned" in why["answer"]


async def test_an_email_only_customer_gets_no_sms_and_a_stop_cancels_a_planned_sms_at_once(
    engine: AsyncEngine,
) -> None:
    email_only, both = Customer("eve"), Customer("sam")
    for c, channels in ((email_only, ("email",)), (both, ("email", "sms"))):
        await _apply(engine, [c.event("consent_given", TUESDAY, channel=ch, **EVIDENCE)
                              for ch in channels], TUESDAY)  # fmt: skip
        later = TUESDAY + timedelta(minutes=1)
        await _apply(engine, [c.event("deal_closed_won", later, deal_id=f"d-{c.tag}")], later)
    eve, sam = await _contact(engine, email_only), await _contact(engine, both)
    assert {t.channel for t in await _touches(engine, eve)} == {"email"}
    assert [r.facts["step"] for r in await _decisions(engine, eve, "touch_not_planned")] == [
        "kickoff-sms"
    ]
    planned_sms = [t for t in await _touches(engine, sam) if t.channel == "sms"]
    assert [(t.status, t.sequence_step) for t in planned_sms] == [
        ("planned", "onboarding-kickoff/kickoff-sms")
    ]

    stop_at = TUESDAY + timedelta(minutes=5)
    stop = both.outcome("stop", sam, stop_at)
    assert await apply_outcomes([stop], engine, "v", stop_at, None, NURTURE.config) == []
    (sms,) = [t for t in await _touches(engine, sam) if t.channel == "sms"]
    assert (sms.status, sms.reason) == ("skipped", "SUPPRESSED")
    cancelled = [r for r in await _decisions(engine, sam, "touch_skipped")
                 if r.reason == "SUPPRESSED"]  # fmt: skip
    assert [r.event_id for r in cancelled] == [f"outcome:{both.tag}-o{both.n}"]
    emails = [t for t in await _touches(engine, sam) if t.channel == "email"]
    assert {t.status for t in emails if t.sequence_step.startswith("onboarding")} == {"planned"}
    assert {t.reason for t in emails if t.sequence_step.startswith("awareness")} == {
        "STAGE_EXITED"  # the stage Sam left: cancelled when Sam left it
    }
    async with engine.connect() as conn:
        why = await queries.why(conn, sam, now=stop_at)
    assert why is not None and 'The SMS "onboarding kickoff"' in why["answer"]
    assert "replied STOP to SMS" in why["answer"] and "is planned" not in why["answer"]


async def test_a_lost_then_won_deal_plans_one_copy_of_each_onboarding_touch(
    engine: AsyncEngine,
) -> None:
    c = Customer("won")
    at = TUESDAY
    await _apply(engine, [c.event("consent_given", at, channel="email", **EVIDENCE)], at)
    for i, kind in enumerate(("deal_closed_won", "deal_closed_lost", "deal_closed_won"), 1):
        when = at + timedelta(hours=i)
        await _apply(engine, [c.event(kind, when, deal_id=f"d-{c.tag}")], when)
    cid = await _contact(engine, c)
    onboarding = [t for t in await _touches(engine, cid)
                  if t.sequence_step.startswith("onboarding-kickoff/")]  # fmt: skip
    per_step = Counter(t.sequence_step for t in onboarding)
    assert per_step and set(per_step.values()) == {1}  # one touch per step, ever
    assert {t.status for t in onboarding} == {"planned"}  # revived after the lost deal


async def test_a_promoter_gets_the_referral_ask_and_a_passive_is_told_why_not(
    engine: AsyncEngine,
) -> None:
    async def advocate_steps(score: int) -> tuple[set[str], list[Any]]:
        c = Customer(f"n{score}")
        at = TUESDAY
        history = [("consent_given", {"channel": "email", **EVIDENCE}),
                   ("deal_closed_won", {"deal_id": "d"}), ("usage_milestone", {"milestone": "m"}),
                   ("nps_submitted", {"score": score})]  # fmt: skip
        for i, (kind, props) in enumerate(history):
            when = at + timedelta(hours=i)
            await _apply(engine, [c.event(kind, when, **props)], when)
        cid = await _contact(engine, c)
        steps = {t.sequence_step for t in await _touches(engine, cid) if t.status == "planned"}
        return steps, await _decisions(engine, cid, "touch_not_planned")

    promoter, _ = await advocate_steps(10)
    assert {"advocate-ask/thank-you", "advocate-ask/referral-ask"} <= promoter
    retained, not_planned = await advocate_steps(7)  # a passive stays retained: no ask at all
    assert not any(s.startswith("advocate-ask/") for s in retained)
    assert not [r for r in not_planned if r.facts.get("step") == "referral-ask"]
