"""Rep reminders through the real handler and database (no broker): owner, dedup, working hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import contacts, decisions, reminders, touches
from services.orchestrator.handlers import apply_engagement
from services.orchestrator.people import Nurture
from tests.probes import StoredRecord

WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
SATURDAY_NIGHT = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
NURTURE = Nurture(default_nurture(), ("pool-a@x.example", "pool-b@x.example"), ("x.example",))


class World:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.n = 0

    def event(self, who: str, kind: str, at: datetime, **props: Any) -> StoredRecord:
        self.n += 1
        value = orjson.dumps({
            "id": f"{self.tag}-{self.n}", "type": kind, "source": "test",
            "time": (at - timedelta(minutes=5)).isoformat(),
            "contact": {"external_id": f"{self.tag}-{who}", "email": f"{who}@{self.tag}.example"},
            "account": {"external_id": f"acc-{self.tag}", "domain": f"{self.tag}.example"},
            "properties": props,
        })  # fmt: skip
        return StoredRecord("trellis.engagement.v1", 0, self.n, value)

    def opt_in(self, who: str, at: datetime) -> StoredRecord:
        """A plan lists only what will be sent: without an opt-in no email is planned."""
        return self.event(who, "consent_given", at, channel="email", method="form", form="f")


async def _apply(engine: AsyncEngine, records: list[StoredRecord], now: datetime) -> None:
    await apply_engagement(records, engine, default_playbook(), lambda: now, nurture=NURTURE)


async def _reminders_of(engine: AsyncEngine, w: World, who: str) -> list[Any]:
    async with engine.connect() as conn:
        cid = select(contacts.c.id).where(contacts.c.email == f"{who}@{w.tag}.example")
        return list(await conn.execute(select(reminders).where(reminders.c.contact_id.in_(cid))))


async def test_a_demo_request_reminds_the_crm_owner_once_within_the_dedup_window(
    engine: AsyncEngine,
) -> None:
    w = World()
    at = WEDNESDAY_NOON
    await _apply(engine, [w.event("ana", "crm_owner_changed", at, owner_id="7",
                                  owner_email="owner@x.example")], at)  # fmt: skip
    await _apply(engine, [w.event("ana", "demo_requested", at)], at)
    await _apply(engine, [w.event("ana", "demo_requested", at)], at + timedelta(hours=2))
    (reminder,) = await _reminders_of(engine, w, "ana")
    assert (reminder.rep, reminder.reason, reminder.status) == (
        "owner@x.example", "demo_requested", "open")  # fmt: skip
    assert reminder.due_at == at and reminder.evidence == [
        {"said": "requested a demo", "at": (at - timedelta(minutes=5)).isoformat()}
    ]
    async with engine.connect() as conn:
        mine = decisions.c.contact_id == reminder.contact_id
        kinds = list(await conn.scalars(select(decisions.c.kind).where(mine)))
        calls = list(await conn.scalars(select(touches.c.id).where(
            touches.c.contact_id == reminder.contact_id,
            touches.c.channel == "rep_call_reminder")))  # fmt: skip
    assert "owner_changed" in kinds and "reminder_deduplicated" in kinds
    assert calls == [reminder.id], "the SQL sequence's call step is the same reminder, not a second"


async def test_a_demo_request_outside_working_hours_is_deferred_to_the_next_window(
    engine: AsyncEngine,
) -> None:
    w = World()
    await _apply(engine, [w.event("bo", "demo_requested", SATURDAY_NIGHT)], SATURDAY_NIGHT)
    (reminder,) = await _reminders_of(engine, w, "bo")
    assert reminder.rep in NURTURE.rep_pool
    assert reminder.due_at == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday, rep hours
    async with engine.connect() as conn:
        due = await conn.scalar(select(touches.c.due_at).where(touches.c.id == reminder.id))
    assert due == reminder.due_at


async def test_an_nps_detractor_gets_a_rep_reminder_and_a_promoter_does_not(
    engine: AsyncEngine,
) -> None:
    w = World()
    at = WEDNESDAY_NOON
    await _apply(engine, [w.event("cy", "nps_submitted", at, score=3),
                          w.event("di", "nps_submitted", at, score=10)], at)  # fmt: skip
    assert [r.reason for r in await _reminders_of(engine, w, "cy")] == ["nps_detractor"]
    assert await _reminders_of(engine, w, "di") == []


async def test_every_planned_touch_is_in_the_decision_log_with_its_reason(
    engine: AsyncEngine,
) -> None:
    w = World()
    first = [w.opt_in("ed", WEDNESDAY_NOON), w.event("ed", "page_viewed", WEDNESDAY_NOON,
                                                        path="/blog")]  # fmt: skip
    await _apply(engine, first, WEDNESDAY_NOON)
    await _apply(engine, first, WEDNESDAY_NOON + timedelta(minutes=1))  # redelivered
    async with engine.connect() as conn:
        cid = select(contacts.c.id).where(contacts.c.email == f"ed@{w.tag}.example")
        planned = list(
            await conn.scalars(select(touches.c.id).where(touches.c.contact_id.in_(cid)))
        )
        logged = list(await conn.execute(select(decisions.c.touch_id, decisions.c.reason).where(
            decisions.c.kind == "touch_planned", decisions.c.contact_id.in_(cid))))  # fmt: skip
    assert len(planned) == 3
    assert sorted(t for t, _ in logged) == sorted(planned)
    assert {r for _, r in logged} == {"STAGE_ENTERED"}


async def test_a_renewal_date_plans_one_reminder_for_the_window_not_one_per_event(
    engine: AsyncEngine,
) -> None:
    w = World()
    renewal = "2027-03-15"
    first = w.event("cy", "usage_milestone", WEDNESDAY_NOON, renewal_date=renewal)
    await _apply(engine, [first], WEDNESDAY_NOON)
    later = WEDNESDAY_NOON + timedelta(days=10)  # past the 7-day dedup window
    await _apply(engine, [w.event("cy", "seats_changed", later, renewal_date=renewal)], later)
    (reminder,) = await _reminders_of(engine, w, "cy")
    assert reminder.reason == "renewal_window" and reminder.evidence == [
        {
            "said": "has a renewal on 15 Mar 2027 (seen when they reached a usage milestone)",
            "at": (WEDNESDAY_NOON - timedelta(minutes=5)).isoformat(),
        }
    ]
    # 60 days before 2027-03-15 is Thursday 2027-01-14, at the opening of rep hours
    assert reminder.due_at.date() == datetime(2027, 1, 14).date()
    assert reminder.due_at > later


async def test_an_exit_event_skips_the_rest_of_the_sequence_at_once_with_its_reason(
    engine: AsyncEngine,
) -> None:
    """``exit_on: [demo_requested, ...]``: the education emails stop when the lead asks for a
    demo, at once and explained, not only when a later stage check catches them at send time."""
    w = World()
    at = WEDNESDAY_NOON
    await _apply(engine, [w.opt_in("ana", at), w.opt_in("bo", at),
                          w.event("ana", "page_viewed", at, path="/blog/a"),
                          w.event("bo", "page_viewed", at, path="/blog/b")], at)  # fmt: skip

    async def education(who: str) -> dict[str, tuple[str, str | None]]:
        async with engine.connect() as conn:
            cid = select(contacts.c.id).where(contacts.c.email == f"{who}@{w.tag}.example")
            rows = await conn.execute(
                select(touches.c.id, touches.c.status, touches.c.reason).where(
                    touches.c.contact_id.in_(cid),
                    touches.c.sequence_step.like("awareness-education/%"),
                )
            )
            return {r.id: (r.status, r.reason) for r in rows}

    planned = await education("ana")
    assert len(planned) == 3 and {s for s, _ in planned.values()} == {"planned"}
    await _apply(engine, [w.event("ana", "demo_requested", at)], at + timedelta(minutes=1))
    demo_id = f"{w.tag}-{w.n}"

    assert await education("ana") == {t: ("skipped", "SEQUENCE_EXITED") for t in planned}
    assert {s for s, _ in (await education("bo")).values()} == {"planned"}, "only ana asked"
    async with engine.connect() as conn:
        logged = set(await conn.scalars(select(decisions.c.touch_id).where(
            decisions.c.reason == "SEQUENCE_EXITED",
            decisions.c.event_id == demo_id)))  # fmt: skip
    assert logged == set(planned)
