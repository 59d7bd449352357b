"""Account plays on the in-memory unit of work: one stakeholder's hand-raise pauses the
others' marketing (not the rep's reminders) until the pause ends or the rep acknowledges, and an
account reaching MQL without finance or executive gives its rep one gap reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.events import EngagementEvent
from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.application.account_plays import resume_account
from services.orchestrator.application.due import handle_due
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.account_plays import (
    PAUSED,
    RESUMED,
    Pause,
    PauseMark,
    active_pauses,
    held_back,
)
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.eligibility import PlannedTouch
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.people import Nurture
from services.orchestrator.simulate import simulate_async

TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
PLAN = Nurture(default_nurture(), ("pool@reps.example",), ("reps.example",))
PLAYBOOK = default_playbook()
ROLES = {"ana": "manager", "ben": "technical", "fay": "finance"}


def event(n: int, kind: str, at: datetime, who: str, **props: Any) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"{who}-{n}", "type": kind, "source": "test", "time": at.isoformat(),
        "contact": {"external_id": who, "email": f"{who}@acme.example",
                    "traits": {"role": ROLES[who], "timezone": "UTC", "first_name": who.title()}},
        "account": {"external_id": "acme", "domain": "acme.example",
                    "traits": {"industry": "software", "employees": 400, "region": "na"}},
        "properties": props,
    })  # fmt: skip


async def feed(uow: MemoryUnitOfWork, events: list[EngagementEvent], now: datetime) -> None:
    received = [(InboxEntry(e.id, "t", 0, i), e) for i, e in enumerate(events)]
    await handle_engagement(uow, received, PLAYBOOK, now, PLAN)


def opted_in(who: str, at: datetime) -> list[EngagementEvent]:
    return [event(1, "consent_given", at, who, channel="email", method="form", form="signup"),
            event(2, "page_viewed", at, who, path="/blog")]  # fmt: skip


def touches_of(uow: MemoryUnitOfWork, who: str) -> dict[str, tuple[str, datetime, str | None]]:
    cid = next(c for c, v in uow.contacts.view_of.items() if v.email == f"{who}@acme.example")
    return {r.touch.template_id: (r.status, r.touch.due_at, r.reason)
            for r in uow.touches.rows.values() if r.touch.contact_id == cid}  # fmt: skip


async def two_colleagues() -> MemoryUnitOfWork:
    uow = MemoryUnitOfWork()
    await feed(uow, opted_in("ana", TUESDAY) + opted_in("ben", TUESDAY), TUESDAY)
    assert {s for s, _, _ in touches_of(uow, "ben").values()} == {"planned"}
    return uow


@pytest.mark.parametrize("kind", ["meeting_booked", "demo_requested"])
async def test_one_stakeholder_raising_a_hand_pauses_the_others_marketing_until_the_end(
    kind: str,
) -> None:
    uow = await two_colleagues()
    before = touches_of(uow, "ben")
    at = TUESDAY + timedelta(hours=2)
    await feed(uow, [event(3, kind, at, "ana")], at)
    end = at + timedelta(days=14)
    after = touches_of(uow, "ben")
    assert after.keys() == before.keys()
    for template, (status, due, reason) in after.items():
        assert status == "planned" and due >= end and reason == "ACCOUNT_PAUSED", template
    deferred = [r for r in uow.decisions.records if r.kind == TouchDecision.TOUCH_DEFERRED]
    assert {(str(r.reason), r.event_id) for r in deferred} == {("ACCOUNT_PAUSED", "ana-3")}
    assert len(deferred) == len(after) and all(r.facts["until"] == end.isoformat()
                                               for r in deferred)  # fmt: skip
    # nothing of ben's is due before the pause ends; the rep's reminder (if any) is not paused
    _, sends = await handle_due(uow, PLAN, "me", end - timedelta(minutes=1), 50)
    assert sends and all(c.channel.startswith("rep_") for c in sends)  # ana's rep is called
    _, later = await handle_due(uow, PLAN, "me", max(d for _, d, _ in after.values()), 50)
    assert {c.to for c in later} == {"ben@acme.example"}


async def test_the_rep_acknowledging_ends_the_pause_and_a_replay_does_not_pause_again() -> None:
    uow = await two_colleagues()
    at = TUESDAY + timedelta(hours=2)
    await feed(uow, [event(3, "demo_requested", at, "ana")], at)
    (aid,) = uow.accounts.view_of
    acked = at + timedelta(days=1)
    records = await resume_account(uow, aid, acked, "rep")
    assert records[0].kind == TouchDecision.ACCOUNT_RESUMED
    back = touches_of(uow, "ben")
    assert {(s, r) for s, _, r in back.values()} == {("planned", None)}
    assert min(d for _, d, _ in back.values()) == acked  # the first now, the others after
    assert await resume_account(uow, aid, acked, "rep") == []  # nothing left to lift
    await feed(uow, [event(3, "demo_requested", at, "ana")], acked)  # redelivered: not fresh
    assert {r for _, _, r in touches_of(uow, "ben").values()} == {None}


def test_a_pause_runs_until_its_end_unless_a_later_resume_lifts_it() -> None:
    p = Pause("a1", "c1", "e1", "meeting_booked", TUESDAY + timedelta(days=14))
    marks = [PauseMark("a1", PAUSED, TUESDAY, p)]
    assert active_pauses(marks, TUESDAY + timedelta(days=13)) == {"a1": [p]}
    assert active_pauses(marks, TUESDAY + timedelta(days=14)) == {}
    lifted = [*marks, PauseMark("a1", RESUMED, TUESDAY + timedelta(days=1))]
    assert active_pauses(lifted, TUESDAY + timedelta(days=2)) == {}
    again = [*lifted, PauseMark("a1", PAUSED, TUESDAY + timedelta(days=3), p)]
    assert active_pauses(again, TUESDAY + timedelta(days=4)) == {"a1": [p]}


def mql_history(at: datetime) -> list[EngagementEvent]:
    """Ana (manager) reaches MQL, Ben (technical) is engaged, Fay (finance) only visited."""
    steps: list[tuple[str, dict[str, Any]]] = [
        ("webinar_attended", {"webinar_id": "w1"}),
        ("page_viewed", {"path": "/pricing", "is_pricing": True}),
        ("content_downloaded", {"content_id": "c", "content_type": "case_study"}),
        ("form_submitted", {"form": "newsletter"}),
    ]
    ana = [event(10 + i, kind, at + timedelta(minutes=i), "ana", **props)
           for i, (kind, props) in enumerate(steps)]  # fmt: skip
    ben = [event(20, "content_downloaded", at, "ben", content_id="g", content_type="guide"),
           event(21, "form_submitted", at, "ben", form="trial")]  # fmt: skip
    return [event(30, "page_viewed", at, "fay", path="/blog"), *ben, *ana]


async def test_an_account_reaching_mql_without_finance_gives_its_rep_one_gap_reminder() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, mql_history(TUESDAY), TUESDAY)
    (account,) = uow.accounts.state_of.values()
    assert account.stage is not None and account.stage.value == "mql"
    gaps = [n for n in uow.reminders.stored.values() if n.reason == "committee_gap"]
    assert len(gaps) == 1
    (gap,) = gaps
    assert gap.rep == "pool@reps.example" and gap.account_id == account.key
    said = " ".join(str(item["said"]) for item in gap.evidence)
    assert "finance or executive" in said and "Fay (finance)" in said
    assert gap.talking_points[0] == "Missing at MQL: finance or executive"
    assert "Ana" in gap.talking_points[2] and "Fay" in gap.talking_points[2]
    assert uow.touches.rows[gap.id].touch.channel == "rep_call_reminder"
    # more engagement at the same stage, even a week later: no second reminder
    later = TUESDAY + timedelta(days=8)
    await feed(uow, [event(40, "page_viewed", later, "ben", path="/docs")], later)
    assert [n.id for n in uow.reminders.stored.values() if n.reason == "committee_gap"] == [gap.id]


async def test_an_account_with_finance_engaged_at_mql_has_no_gap() -> None:
    uow = MemoryUnitOfWork()
    history = mql_history(TUESDAY)
    fay = [event(31, "content_downloaded", TUESDAY, "fay", content_id="g", content_type="guide"),
           event(32, "form_submitted", TUESDAY, "fay", form="trial")]  # fmt: skip
    await feed(uow, [*history, *fay], TUESDAY)
    (account,) = uow.accounts.state_of.values()
    assert account.stage is not None and account.stage.value == "mql"
    assert "finance" in account.coverage
    assert not [n for n in uow.reminders.stored.values() if n.reason == "committee_gap"]


async def test_simulate_reports_the_pause_and_the_gap_reminder() -> None:
    meeting = event(50, "meeting_booked", TUESDAY + timedelta(hours=3), "ana")
    history = [*opted_in("ben", TUESDAY), *mql_history(TUESDAY), meeting]
    result = await simulate_async(history, PLAYBOOK, batch_size=1, nurture=PLAN.config,
                                  horizon=timedelta(days=30), reps=PLAN.rep_pool)  # fmt: skip
    assert result.touches is not None
    report = result.touches.as_dict()
    assert report["deferred"]["ACCOUNT_PAUSED"] >= 1
    assert report["reminders"]["committee_gap"] == 1
    paused = [r for r in result.touches.rows if r["status"] == "deferred"
              and r["reason"] == "ACCOUNT_PAUSED"]  # fmt: skip
    assert paused and all(r["channel"] == "email" for r in paused)


def _touch(tid: str, contact: str, channel: str, due: datetime) -> PlannedTouch:
    return PlannedTouch(touch_id=tid, contact_id=contact, account_id="a1", sequence_id="s",
                        step_id=tid, stage=Stage.ENGAGED, channel=TouchChannel(channel),
                        template="t", window=None, due_at=due)  # fmt: skip


def test_held_touches_move_together_past_the_end_and_reminders_and_the_hand_raiser_stay() -> None:
    end = TUESDAY + timedelta(days=14)  # a Tuesday, 10:00 UTC: inside the email window
    pause = Pause("a1", "ana", "e1", "meeting_booked", end)
    ben = [_touch("t1", "ben", "email", TUESDAY + timedelta(days=1)),
           _touch("t2", "ben", "email", TUESDAY + timedelta(days=3)),
           _touch("r1", "ben", "rep_call_reminder", TUESDAY + timedelta(hours=1))]  # fmt: skip
    held = held_back(ben, [pause], PLAN.config, UTC_ZONE)
    assert [(t.touch_id, due) for t, due, _ in held] == [
        ("t1", end),
        ("t2", end + timedelta(days=2)),  # the spacing kept, the reminder left
    ]
    ana = [_touch("t3", "ana", "email", TUESDAY + timedelta(days=1))]
    assert held_back(ana, [pause], PLAN.config, UTC_ZONE) == []  # her own: not paused
    late = [_touch("t4", "ben", "email", end + timedelta(days=1))]
    assert held_back(late, [pause], PLAN.config, UTC_ZONE) == []  # due after the end anyway
