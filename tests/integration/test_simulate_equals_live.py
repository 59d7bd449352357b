"""One history, fed to the live orchestrator through the real broker and to ``trellis simulate``,
gives the same touches (ids, channels, templates, due times, statuses, reasons), the same
reminders and the same stage histories for contacts and accounts — on SQLite and PostgreSQL.

The history is a buying committee over nine weeks: consent given, withheld and withdrawn, an SMS
STOP, a demo request, a deal lost and then won, NPS from a promoter and a detractor, people in
America/Los_Angeles and Asia/Kolkata. Live, the test moves the orchestrator's clock the way
simulate moves its own: to each due touch on the way to the next event, then to the event.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from schemas.outcomes import TouchOutcome
from schemas.topics import ENGAGEMENT, OUTCOMES
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import inbox, reminders, stage_history, touches
from services.orchestrator.main import run
from services.orchestrator.outcomes import inbox_id
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.simulate import simulate_async, timeline
from tests.probes import eventually, produce
from trellis.broker import EmbeddedBroker
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

START = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # a Monday: 09:00 in Los Angeles
REP, REP_DOMAIN = "maya@reps.example", "reps.example"
HORIZON = timedelta(days=30)
LA, KOLKATA = "America/Los_Angeles", "Asia/Kolkata"
PEOPLE = {  # name: (account, role, zone, phone)
    "ana": ("acme", "finance", LA, "+14155550101"),
    "ben": ("acme", "technical", KOLKATA, None),
    "cara": ("acme", "executive", LA, None),
    "dev": ("acme", "user", KOLKATA, None),
    "eve": ("acme", "manager", LA, "+14155550105"),
    "gita": ("globex", "manager", KOLKATA, None),
}
ACCOUNTS = {"acme": "us-west", "globex": "apac"}


def _history(tag: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    def at(day: float, hours: float = 0) -> datetime:
        return START + timedelta(days=day, hours=hours)

    def e(day: float, who: str, kind: str, hours: float = 0, **props: Any) -> None:
        account, role, zone, phone = PEOPLE[who]
        traits = {"role": role, "timezone": zone} | ({"phone": phone} if phone else {})
        events.append({
            "id": f"{tag}-{len(events)}", "type": kind, "source": "test",
            "time": at(day, hours).isoformat(),
            "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@{account}-{tag}.example",
                        "traits": traits},
            "account": {"external_id": f"{tag}-{account}", "domain": f"{account}-{tag}.example",
                        "traits": {"region": ACCOUNTS[account], "industry": "software",
                                   "employees": 400}},
            "properties": props,
        })  # fmt: skip

    for who in PEOPLE:
        e(0, who, "page_viewed", path="/blog/b2b-nurture")
    for who, channel in (("ana", "email"), ("ana", "sms"), ("ben", "email"), ("dev", "email"),
                         ("eve", "email"), ("eve", "sms"), ("gita", "email")):  # fmt: skip
        e(0, who, "consent_given", hours=1, channel=channel, method="form", form="signup")
    e(2, "ana", "content_downloaded", content_id="roi", content_type="guide")
    e(2, "eve", "webinar_registered", hours=3, webinar_id="w-1")
    e(3, "ben", "page_viewed", hours=10, path="/docs/architecture")
    e(5, "eve", "webinar_attended", webinar_id="w-1")
    e(5, "ana", "page_viewed", hours=2, path="/pricing")
    e(5, "ben", "page_viewed", hours=12, path="/pricing")
    e(8, "eve", "demo_requested", hours=1, notes="wants a demo")
    e(9, "dev", "consent_withdrawn", channel="email", method="form", form="signup")
    e(10, "eve", "deal_created", deal_id="d-1", amount=24000)
    e(18, "eve", "deal_closed_lost", deal_id="d-1")
    e(25, "eve", "deal_closed_won", deal_id="d-1")
    e(27, "eve", "product_activated", plan="team")
    e(27, "ana", "usage_milestone", hours=4, milestone="first_report")
    e(30, "gita", "contact_sales_requested", hours=20)
    e(40, "ana", "nps_submitted", score=10)
    e(41, "ben", "nps_submitted", hours=11, score=3)
    e(60, "cara", "page_viewed", path="/blog/roi")
    stop = {"id": f"{tag}-stop", "contact_id": PEOPLE["eve"][3], "channel": "sms",
            "status": "stop", "occurred_at": at(14, 2).isoformat()}  # fmt: skip
    return events, [stop]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _scalar(engine: AsyncEngine, query: Any) -> Any:
    async with engine.connect() as conn:
        return await conn.scalar(query)


async def _until_count(engine: AsyncEngine, query: Any, want: int, deadline_s: float) -> None:
    await eventually(lambda: _scalar(engine, query), lambda n: n == want, deadline_s)


async def _live_due_until(engine: AsyncEngine, clock: Clock, until: datetime) -> None:
    """As ``simulate.run_due_until``: the clock stops at each due touch on the way."""
    planned = touches.c.status == "planned"
    while True:
        due = await _scalar(engine, select(func.min(touches.c.due_at)).where(planned))
        if due is None:
            return
        due = due if due.tzinfo else due.replace(tzinfo=UTC)  # SQLite keeps no zone
        if due > until:
            return
        clock.now = due
        left = select(func.count()).select_from(touches).where(planned, touches.c.due_at <= due)
        await _until_count(engine, left, 0, 30)


async def _live(
    engine: AsyncEngine, settings: OrchestratorSettings, clock: Clock, steps: list[Any]
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop, clock))
    try:
        for step in steps:
            if isinstance(step, TouchOutcome):
                at, topic, key, ids = step.occurred_at, OUTCOMES, step.contact_id, [inbox_id(step)]
                values = [step.model_dump_json().encode()]
            else:
                at, topic, key = step[-1].time, ENGAGEMENT, step[-1].partition_key()
                ids, values = [e.id for e in step], [e.model_dump_json().encode() for e in step]
            await _live_due_until(engine, clock, at)
            clock.now = at
            await produce(settings.bootstrap_servers, topic, [(key.encode(), v) for v in values])
            seen = select(func.count()).select_from(inbox).where(inbox.c.event_id.in_(ids))
            await _until_count(engine, seen, len(ids), 60)
        await _live_due_until(engine, clock, max(_time(s) for s in steps) + HORIZON)
        await asyncio.sleep(0.3)  # a last scheduler round at that time (the reminder clock)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def _time(step: Any) -> datetime:
    return step.occurred_at if isinstance(step, TouchOutcome) else step[-1].time


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def test_one_history_gives_the_same_touches_reminders_and_stages_live_and_simulated(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine
) -> None:
    raw_events, raw_outcomes = _history(uuid.uuid4().hex[:6])
    events = [EngagementEvent.model_validate(e) for e in raw_events]
    outcomes = [TouchOutcome.model_validate(o) for o in raw_outcomes]
    sim = await simulate_async(
        events, default_playbook(), batch_size=1, nurture=default_nurture(), horizon=HORIZON,
        reps=(REP,), rep_domains=(REP_DOMAIN,), outcomes=outcomes,
    )  # fmt: skip
    live = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap, orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_scheduler_interval_s=0.05, ops_serve=False,
        orchestrator_rep_pool=REP, rep_domains=REP_DOMAIN,
        orchestrator_redispatch_after_s=1e9,  # no notifier answers here: nothing is stale
    )  # fmt: skip
    await ensure_topics(live, partitions=1)
    steps = list(timeline(sorted(events, key=lambda e: (e.time, e.id)), outcomes, 1,
                          timedelta(hours=1)))  # fmt: skip
    await _live(engine, live, Clock(START), steps)

    world = sim.world
    assert world is not None
    async with engine.connect() as conn:
        live_touches = {
            (r.id, r.channel, r.template_id, _utc(r.due_at), r.status, r.reason)
            for r in await conn.execute(select(touches))
        }
        live_reminders = {
            (r.id, r.rep, r.contact_id, r.reason, r.status, _utc(r.due_at))
            for r in await conn.execute(select(reminders))
        }
        live_history = {
            (r.subject_kind, r.subject_id, r.from_stage, r.to_stage, r.reason, r.event_id,
             _utc(r.occurred_at))
            for r in await conn.execute(select(stage_history))
        }  # fmt: skip
    sim_touches = {
        (t.touch.id, t.touch.channel, t.touch.template_id, t.touch.due_at, t.status, t.reason)
        for t in world.touches.rows.values()
    }
    sim_reminders = {
        (n.id, n.rep, n.contact_id, n.reason, n.status, n.due_at)
        for n in world.reminders.stored.values()
    }
    sim_history = {
        (t.subject_kind, t.subject_key, t.from_stage, t.to_stage, t.reason, t.event_id,
         t.occurred_at)
        for t, _ in world.contacts.history
    }  # fmt: skip
    assert sorted(live_touches - sim_touches, key=str) == sorted(
        sim_touches - live_touches, key=str
    )
    assert live_touches == sim_touches
    assert live_reminders == sim_reminders
    assert live_history == sim_history
    # the history exercised what it is for
    statuses = {(t[1], t[4], t[5]) for t in sim_touches}
    assert ("email", "dispatched", "ALLOWED") in statuses
    assert any(s == "skipped" for _, s, _ in statuses)
    assert {r[3] for r in sim_reminders} >= {"demo_requested", "contact_sales"}
    kinds = {(h[0], h[3]) for h in sim_history}
    assert {("contact", "sql"), ("contact", "onboarding"), ("account", "onboarding")} <= kinds
    assert {("contact", "opportunity")} <= kinds
