"""Account plays through the real broker and orchestrator, on SQLite and PostgreSQL, and the
same history through ``trellis simulate``: a buying committee where one member books a meeting
pauses the others' marketing (not the rep's reminders), and the account reaching MQL without
finance or executive gives the rep exactly one gap reminder naming them. Live == simulated
(touches, reminders, the pause's decisions), in the style of ``test_simulate_equals_live``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.events import EngagementEvent
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.tables import decisions, reminders, touches
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.simulate import simulate_async, timeline
from tests.integration.test_simulate_equals_live import (
    HORIZON,
    REP,
    REP_DOMAIN,
    START,
    Clock,
    _live,
    _utc,
)
from trellis.broker import EmbeddedBroker
from trellis.kafka import ensure_topics
from trellis.settings import TrellisSettings

PEOPLE = {  # name: (role, zone)
    "ivy": ("manager", "America/Los_Angeles"),
    "jon": ("technical", "Asia/Kolkata"),
    "kim": ("user", "America/Los_Angeles"),
    "fay": ("finance", "Europe/Berlin"),
}
MEETING_DAY = 10
PAUSE = timedelta(days=14)


def _history(tag: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    def e(day: float, who: str, kind: str, hours: float = 0, **props: Any) -> None:
        role, zone = PEOPLE[who]
        events.append({
            "id": f"{tag}-{len(events)}", "type": kind, "source": "test",
            "time": (START + timedelta(days=day, hours=hours)).isoformat(),
            "contact": {"external_id": f"{tag}-{who}", "email": f"{who}@initech-{tag}.example",
                        "traits": {"role": role, "timezone": zone, "first_name": who.title()}},
            "account": {"external_id": f"{tag}-initech", "domain": f"initech-{tag}.example",
                        "traits": {"region": "us-west", "industry": "software",
                                   "employees": 400}},
            "properties": props,
        })  # fmt: skip

    for who in PEOPLE:
        e(0, who, "page_viewed", path="/blog/b2b-nurture")
    for who in ("ivy", "jon", "kim"):
        e(0, who, "consent_given", hours=1, channel="email", method="form", form="signup")
    e(2, "ivy", "webinar_attended", webinar_id="w-1")
    e(2, "ivy", "page_viewed", hours=3, path="/pricing", is_pricing=True)
    e(3, "ivy", "content_downloaded", content_id="cs", content_type="case_study")
    # jon engaged makes two committee roles: the account reaches mql, with no finance
    e(8, "jon", "content_downloaded", content_id="arch", content_type="guide")
    e(8, "jon", "form_submitted", hours=2, form="trial")
    e(MEETING_DAY, "ivy", "meeting_booked", meeting_id="m-1")
    e(MEETING_DAY + 2, "kim", "page_viewed", path="/blog/more")
    return events


async def test_a_meeting_pauses_the_committee_and_a_missing_finance_role_reminds_once(
    isolated_broker: EmbeddedBroker, settings: TrellisSettings, engine: AsyncEngine
) -> None:
    tag = uuid.uuid4().hex[:6]
    events = [EngagementEvent.model_validate(e) for e in _history(tag)]
    sim = await simulate_async(
        events, default_playbook(), batch_size=1, nurture=default_nurture(), horizon=HORIZON,
        reps=(REP,), rep_domains=(REP_DOMAIN,),
    )  # fmt: skip
    live = OrchestratorSettings(
        **settings.model_dump(exclude={"kafka_bootstrap"}),
        kafka_bootstrap=isolated_broker.bootstrap, orchestrator_group=f"orc-{uuid.uuid4().hex}",
        orchestrator_scheduler_interval_s=0.05, ops_serve=False,
        orchestrator_rep_pool=REP, rep_domains=REP_DOMAIN,
    )  # fmt: skip
    await ensure_topics(live, partitions=1)
    steps = list(timeline(sorted(events, key=lambda e: (e.time, e.id)), [], 1,
                          timedelta(hours=1)))  # fmt: skip
    await _live(engine, live, Clock(START), steps)

    world = sim.world
    assert world is not None
    meeting = next(e for e in events if e.type == "meeting_booked")
    async with engine.connect() as conn:
        live_touches = {
            (r.id, r.contact_id, r.channel, r.template_id, _utc(r.due_at), r.status, r.reason,
             _utc(r.dispatched_at))
            for r in await conn.execute(select(touches))
        }  # fmt: skip
        live_reminders = {
            (r.id, r.rep, r.contact_id, r.reason, r.status, _utc(r.due_at), str(r.evidence))
            for r in await conn.execute(select(reminders))
        }
        live_paused = {
            (r.contact_id, r.touch_id, r.reason, r.event_id, r.facts.get("due_at"))
            for r in await conn.execute(
                select(decisions).where(decisions.c.kind.in_(["touch_deferred", "account_paused"]),
                                        decisions.c.reason == "ACCOUNT_PAUSED")
            )
        }  # fmt: skip
    sim_touches = {
        (t.touch.id, t.touch.contact_id, t.touch.channel, t.touch.template_id, t.touch.due_at,
         t.status, t.reason, t.touch.dispatched_at)
        for t in world.touches.rows.values()
    }  # fmt: skip
    sim_reminders = {
        (n.id, n.rep, n.contact_id, n.reason, n.status, n.due_at, str(n.evidence))
        for n in world.reminders.stored.values()
    }
    sim_paused = {
        (r.contact_id, r.touch_id, str(r.reason), r.event_id, r.facts.get("due_at"))
        for r in world.decisions.records
        if r.kind in ("touch_deferred", "account_paused") and r.reason == "ACCOUNT_PAUSED"
    }
    assert live_touches == sim_touches
    assert live_reminders == sim_reminders
    assert live_paused == sim_paused

    # the meeting paused the others' marketing: logged per touch with the meeting, none of it
    # went out during the pause; ivy's own rep reminder went out at once
    name = {cid: str(v.email).split("@")[0] for cid, v in world.contacts.view_of.items()}
    deferred = {p for p in sim_paused if p[1] is not None}
    assert deferred and {p[3] for p in sim_paused} == {meeting.id}
    assert {name[str(p[0])] for p in deferred} == {"jon", "kim"}
    end = meeting.time + PAUSE
    marketing = [t for t in sim_touches if not t[2].startswith("rep_") and t[7] is not None]
    sent = [(name[t[1]], t[7]) for t in marketing if t[7] is not None]
    others = [at for who, at in sent if who in ("jon", "kim")]
    assert others and not [at for at in others if meeting.time <= at < end]
    calls = [(name[t[1]], t[7]) for t in sim_touches if t[2].startswith("rep_") and t[7]]
    called = [at for who, at in calls if who == "ivy" and at and meeting.time <= at < end]
    assert called  # the rep's reminder was not paused
    # exactly one gap reminder, for the account, naming the missing roles and fay
    gaps = [r for r in sim_reminders if r[3] == "committee_gap"]
    assert len(gaps) == 1 and name[str(gaps[0][2])] == "ivy"  # the champion, who can introduce
    assert "finance or executive" in gaps[0][6] and "Fay (finance)" in gaps[0][6]
    assert gaps[0][1] == REP
