"""Handoffs on the in-memory unit of work (what simulate runs): a closed-won account gets one CSM
handoff with the committee and the deal; an SQL nobody takes is breached, then escalated to
the lead once, in the lead's working hours; an acknowledgement or a meeting completes one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.events import EngagementEvent
from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.handoff_clock import Clocked, handle_handoff_clock
from services.orchestrator.application.handoff_done import handoff_taken
from services.orchestrator.application.handoffs import create_handoffs
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.handoffs import HandoffKind, TeamConfig, TeamMember
from services.orchestrator.domain.reminders import Signal
from services.orchestrator.domain.stages import Stage, TransitionReason
from services.orchestrator.domain.state import Decision, Transition
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.people import Nurture

TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TEAMS = {
    "sales": TeamConfig(lead="lee@co.example", members={
        "lee@co.example": TeamMember(timezone="Asia/Tokyo", capacity=0),
        "dana@co.example": TeamMember(timezone="Europe/London"),
    }),
    "success": TeamConfig(lead="sam@co.example", members={
        "sam@co.example": TeamMember(timezone="Europe/Berlin", capacity=0),
        "cara@co.example": TeamMember(timezone="Europe/Berlin"),
    }),
}  # fmt: skip
CONFIG = default_nurture().model_copy(update={"teams": TEAMS})
PLAN = Nurture(CONFIG.model_validate(CONFIG.model_dump()), (), ("co.example",))
PLAYBOOK = default_playbook()


def event(n: int, kind: str, at: datetime, who: str = "ana", role: str = "manager",
          **props: Any) -> EngagementEvent:  # fmt: skip
    return EngagementEvent.model_validate({
        "id": f"{who}-{n}", "type": kind, "source": "test", "time": at.isoformat(),
        "contact": {"external_id": who, "email": f"{who}@acme.example",
                    "traits": {"role": role, "name": who.title()}},
        "account": {"external_id": "acme", "domain": "acme.example"}, "properties": props,
    })  # fmt: skip


async def feed(uow: MemoryUnitOfWork, events: list[EngagementEvent], now: datetime) -> None:
    received = [(InboxEntry(e.id, "t", 0, i), e) for i, e in enumerate(events)]
    await handle_engagement(uow, received, PLAYBOOK, now, PLAN)


def logged(uow: MemoryUnitOfWork, kind: TouchDecision) -> list[str]:
    return [str(r.reason) for r in uow.decisions.records if r.kind == kind]


async def test_closed_won_makes_one_csm_handoff_with_the_committee_and_the_deal() -> None:
    uow = MemoryUnitOfWork()
    t = TUESDAY_10
    await feed(uow, [event(1, "webinar_attended", t, topic="ROI"),
                     event(1, "content_downloaded", t, who="ben", role="technical",
                           title="Security whitepaper")], t)  # fmt: skip
    won = event(2, "deal_closed_won", t + timedelta(hours=1), deal_id="D-7", amount=48000,
                currency="EUR", products=["Core", "SSO"],
                promised_outcomes="Onboard 3 teams in 30 days")  # fmt: skip
    await feed(uow, [won], t + timedelta(hours=1))
    await feed(uow, [won], t + timedelta(hours=2))  # redelivered: nothing again
    (h,) = [h for h in uow.handoffs.stored.values() if h.kind is HandoffKind.CSM_KICKOFF]
    assert h.team == "success" and h.owner == "cara@co.example"  # the lead has capacity 0
    berlin = h.deadline_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert (berlin.weekday(), berlin.hour) == (3, 12)  # Tue 12:00 Berlin + 2 business days
    note = uow.reminders.stored[h.reminder_id or ""]
    told = " | ".join(item["said"] for item in note.evidence)
    assert "48,000 EUR" in told and "Core, SSO" in told and "Onboard 3 teams" in told
    assert "Ana (manager)" in told and "Ben (technical)" in told
    assert "Security whitepaper" in told and "ROI" in told
    assert note.rep == "cara@co.example" and note.reason == "handoff_csm_kickoff"
    assert logged(uow, TouchDecision.HANDOFF_CREATED).count("HANDOFF") == 1


async def test_an_sql_nobody_takes_is_breached_then_escalated_once_in_the_leads_hours() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "demo_requested", TUESDAY_10)], TUESDAY_10)
    (h,) = [h for h in uow.handoffs.stored.values() if h.kind is HandoffKind.SQL_FIRST_CONTACT]
    assert h.owner == "dana@co.example"  # least loaded with room (the lead has capacity 0)
    assert h.deadline_at == TUESDAY_10 + timedelta(hours=4)  # London: UTC in December
    assert await handle_handoff_clock(uow, PLAN, h.deadline_at - timedelta(minutes=1)) == Clocked(
        0, 0
    )
    first = await handle_handoff_clock(uow, PLAN, h.deadline_at)
    assert (first.breached, first.escalated) == (1, 0)
    h = uow.handoffs.stored[h.id]
    later = await handle_handoff_clock(uow, PLAN, h.escalate_at)
    again = await handle_handoff_clock(uow, PLAN, h.escalate_at + timedelta(days=3))
    assert (later.escalated, again.breached, again.escalated) == (1, 0, 0)
    h = uow.handoffs.stored[h.id]
    assert h.escalated_to == "lee@co.example"
    (esc,) = [r for r in uow.reminders.stored.values() if r.reason == "handoff_escalated"]
    assert esc.rep == "lee@co.example"
    assert esc.due_at is not None and esc.due_at >= h.escalate_at
    tokyo = ZoneInfo("Asia/Tokyo")  # escalated at 18:00 UTC = 03:00 in Tokyo: waits for 08:30
    assert CONFIG.window_for(TouchChannel.REP_CALL_REMINDER).contains(esc.due_at, tokyo)
    assert h.escalate_at == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 4 working hours later
    assert esc.due_at == datetime(2026, 12, 2, 8, 30, tzinfo=tokyo)
    assert logged(uow, TouchDecision.HANDOFF_BREACHED) == ["SLA_BREACHED"]
    assert logged(uow, TouchDecision.HANDOFF_ESCALATED) == ["SLA_ESCALATED"]


async def test_an_acknowledged_handoff_or_a_meeting_never_breaches() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "demo_requested", TUESDAY_10)], TUESDAY_10)
    (h,) = uow.handoffs.stored.values()
    assert (
        await handoff_taken(uow, h.reminder_id or "", TUESDAY_10 + timedelta(hours=1), "dana") == 1
    )
    assert uow.handoffs.stored[h.id].accepted_at == TUESDAY_10 + timedelta(hours=1)
    tick = await handle_handoff_clock(uow, PLAN, TUESDAY_10 + timedelta(days=5))
    assert (tick.breached, tick.escalated) == (0, 0)

    other = MemoryUnitOfWork()
    await feed(other, [event(1, "demo_requested", TUESDAY_10, who="eve")], TUESDAY_10)
    await feed(other, [event(2, "meeting_booked", TUESDAY_10 + timedelta(hours=1), who="eve")],
               TUESDAY_10 + timedelta(hours=1))  # fmt: skip
    (h2,) = other.handoffs.stored.values()
    assert h2.first_contact_at == TUESDAY_10 + timedelta(hours=1) and not h2.open
    assert logged(other, TouchDecision.HANDOFF_COMPLETED) == ["HANDOFF_DONE"]


async def test_a_crm_owner_for_a_team_is_that_teams_owner_and_the_previous_one_is_kept() -> None:
    uow = MemoryUnitOfWork()
    t = TUESDAY_10
    await feed(uow, [event(1, "demo_requested", t)], t)
    await feed(uow, [event(2, "crm_owner_changed", t + timedelta(minutes=5), owner_id="x",
                           owner_email="sam@co.example", team="success")],
               t + timedelta(minutes=5))  # fmt: skip
    await feed(uow, [event(3, "crm_owner_changed", t + timedelta(minutes=6), owner_id="y",
                           owner_email="cara@co.example", team="success")],
               t + timedelta(minutes=6))  # fmt: skip
    owners = await uow.handoffs.owners({h.account_id for h in uow.handoffs.stored.values()})
    success = next(o for (_, team), o in owners.items() if team == "success")
    assert (success.owner, success.previous_owner) == ("cara@co.example", "sam@co.example")
    sales = next(o for (_, team), o in owners.items() if team == "sales")
    assert sales.owner == "dana@co.example"  # the success change did not touch sales
    account = next(iter(uow.accounts.view_of.values()))
    assert account.owner_rep == "dana@co.example"


async def test_without_teams_nothing_is_handed_over() -> None:
    uow = MemoryUnitOfWork()
    received = [(InboxEntry("x-1", "t", 0, 0), event(1, "demo_requested", TUESDAY_10))]
    await handle_engagement(uow, received, PLAYBOOK, TUESDAY_10,
                            Nurture(default_nurture(), ("pool@co.example",)))  # fmt: skip
    assert uow.handoffs.stored == {} and uow.handoffs.owner_of == {}


def _moved(event_id: str, left: Stage, entered: Stage, contact: str = "c1") -> Decision:
    move = Transition(subject_kind="contact", subject_key=contact, from_stage=left,
                      to_stage=entered, reason=TransitionReason.EVIDENCE, event_id=event_id,
                      occurred_at=TUESDAY_10)  # fmt: skip
    return Decision(contacts={}, accounts={}, transitions=(move,), log=())


def _signal(event_id: str, kind: str, **props: Any) -> Signal:
    return Signal(event_id, "c1", "a1", kind, props, TUESDAY_10)


async def test_an_mql_goes_to_sales_to_accept_and_sql_overtakes_it_in_the_same_episode() -> None:
    uow, log = MemoryUnitOfWork(), []  # type: ignore[var-annotated]
    config = PLAN.config
    mql = await create_handoffs(uow, config, _moved("e1", Stage.ENGAGED, Stage.MQL),
                                [_signal("e1", "webinar_attended")], TUESDAY_10, log)  # fmt: skip
    assert [(h.kind, h.team, h.owner) for h in mql] == [
        (HandoffKind.MQL_ACCEPT, "sales", "dana@co.example")]  # fmt: skip
    again = await create_handoffs(uow, config, _moved("e2", Stage.ENGAGED, Stage.MQL, "c2"),
                                  [_signal("e2", "webinar_attended")], TUESDAY_10, log)  # fmt: skip
    assert again == []  # a colleague reaching MQL: the same episode
    sql = await create_handoffs(uow, config, _moved("e3", Stage.MQL, Stage.SQL),
                                [_signal("e3", "demo_requested")], TUESDAY_10, log)  # fmt: skip
    assert [h.kind for h in sql] == [HandoffKind.SQL_FIRST_CONTACT]
    first = uow.handoffs.stored[mql[0].id]
    assert first.completed_at == TUESDAY_10 and first.accepted_at is None  # superseded
    assert [str(r.reason) for r in log if r.kind == TouchDecision.HANDOFF_COMPLETED] == [
        "HANDOFF_SUPERSEDED"]  # fmt: skip


async def test_a_rep_pool_takes_the_sales_handoffs_and_the_team_keeps_the_others() -> None:
    """The pool (TRELLIS_ORCHESTRATOR_REP_POOL) names who takes new leads: an unowned account's
    sales owner comes from it, least loaded first, as the rep reminders pick (so the handoff and
    the call reminder name one rep); a CSM still comes from the success team."""
    uow = MemoryUnitOfWork()
    pooled = Nurture(PLAN.config, ("pat@co.example", "quinn@co.example"), ("co.example",))

    def at(company: str, n: int, kind: str, **props: Any) -> EngagementEvent:
        e = event(n, kind, TUESDAY_10, who=f"{company}-ana", **props)
        account = {"external_id": company, "domain": f"{company}.example"}
        return e.model_copy(update={"account": e.account.model_copy(update=account)})  # type: ignore[union-attr]

    for n, company in enumerate(["acme", "globex"]):
        asked = at(company, n, "demo_requested")
        await handle_engagement(uow, [(InboxEntry(asked.id, "t", 0, n), asked)], PLAYBOOK,
                                TUESDAY_10, pooled)  # fmt: skip
    sales = sorted((h.account_id, h.owner) for h in uow.handoffs.stored.values()
                   if h.kind is HandoffKind.SQL_FIRST_CONTACT)  # fmt: skip
    owners = {a: v.owner_rep for a, v in uow.accounts.view_of.items()}
    assert sorted(str(o) for _, o in sales) == ["pat@co.example", "quinn@co.example"]
    assert all(owners[a] == o for a, o in sales)  # the reminder's rep is the handoff's owner
    won = at("acme", 9, "deal_closed_won", deal_id="D-1", amount=1000)
    await handle_engagement(uow, [(InboxEntry(won.id, "t", 0, 9), won)], PLAYBOOK, TUESDAY_10,
                            pooled)  # fmt: skip
    (csm,) = [h for h in uow.handoffs.stored.values() if h.kind is HandoffKind.CSM_KICKOFF]
    assert csm.owner == "cara@co.example"  # the success team, not the pool
