"""The time-to-value watch on the in-memory unit of work: a customer not activated by day 14
gives its CSM one at-risk reminder from the reminder clock (none after or before activation),
a usage drop one churn-risk reminder, imported history none; simulate reports them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import EngagementEvent
from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.reminder_clock import handle_reminder_clock
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.application.value_watch import handle_value_watch
from services.orchestrator.domain.handoffs import TeamConfig, TeamMember
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.people import Nurture
from services.orchestrator.simulate import simulate_async

WON = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday
POOL = "pool@reps.example"
PLAN = Nurture(default_nurture(), (POOL,), ("reps.example",))
PLAYBOOK = default_playbook()


def event(n: int, kind: str, day: float, who: str = "ana", **props: Any) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"{who}-{kind}-{n}", "type": kind, "source": "test",
        "time": (WON + timedelta(days=day)).isoformat(),
        "contact": {"external_id": who, "email": f"{who}@acme.example",
                    "traits": {"role": "manager", "timezone": "UTC", "first_name": who.title()}},
        "account": {"external_id": "acme", "domain": "acme.example"},
        "properties": props,
    })  # fmt: skip


async def feed(
    uow: MemoryUnitOfWork, events: list[EngagementEvent], historical: bool = False
) -> None:
    received = [(InboxEntry(e.id, "t", 0, i), e) for i, e in enumerate(events)]
    now = max(e.time for e in events)
    await handle_engagement(uow, received, PLAYBOOK, now, PLAN, historical=historical)


def won() -> list[EngagementEvent]:
    return [event(0, "page_viewed", -30, path="/pricing"),
            event(1, "deal_closed_won", 0, deal_id="d1", amount=12000),
            event(2, "seats_changed", 0.1, seats=12)]  # fmt: skip


def reminders(uow: MemoryUnitOfWork, reason: str) -> list[Any]:
    return [r for r in uow.reminders.stored.values() if r.reason == reason]


async def test_no_activation_by_day_14_reminds_the_csm_once_with_the_evidence() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, won())
    assert (await handle_value_watch(uow, PLAN, WON + timedelta(days=13, hours=23))).reminded == 0
    assert uow.value_watches.next_check() == WON + timedelta(days=14)
    done = await handle_value_watch(uow, PLAN, WON + timedelta(days=14))
    assert (done.checked, done.reminded) == (1, 1)
    (r,) = reminders(uow, "early_churn_risk")
    assert r.rep == POOL  # no success-team owner: the owner rep / pool, as every reminder
    said = [line["said"] for line in r.evidence]
    assert "has not activated the product 14 days later" in said[0]
    assert "Seats: 12 (as of 02 Mar 2026)" in said and "NPS: no answer yet" in said
    for later in (15, 16, 30):  # never again, however often the clock looks
        await handle_value_watch(uow, PLAN, WON + timedelta(days=later))
    await feed(uow, [event(3, "product_activated", 16)])
    assert len(reminders(uow, "early_churn_risk")) == 1


async def test_activation_before_day_14_reminds_no_one() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, won())
    await feed(uow, [event(3, "product_activated", 9)])
    assert uow.value_watches.next_check() is None  # nothing left to look at
    await handle_value_watch(uow, PLAN, WON + timedelta(days=14))
    assert not reminders(uow, "early_churn_risk")


async def test_a_usage_drop_reminds_once_per_episode() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, won())
    busy = [
        event(10 + 2 * d + i, "feature_used", d + i / 10) for d in range(1, 31) for i in range(2)
    ]
    await feed(uow, [event(3, "product_activated", 1), *busy])  # 60 usage events in 30 days
    for day in range(31, 75):  # usage stopped: the clock sees the fall
        await handle_value_watch(uow, PLAN, WON + timedelta(days=day))
    (r,) = reminders(uow, "churn_risk")
    assert "usage fell" in r.evidence[0]["said"]
    assert r.due_at >= WON + timedelta(days=31)
    assert not [d for d in uow.decisions.records if d.kind == "reminder_deduplicated"]


async def test_a_detractor_at_a_customer_reminds_the_csm_once_after_the_batch() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, won())
    await feed(uow, [event(3, "product_activated", 1), event(4, "nps_submitted", 20, score=2)])
    (r,) = reminders(uow, "churn_risk")
    assert "NPS 2 (a detractor)" in r.evidence[0]["said"]
    assert not reminders(uow, "nps_detractor")  # told once: to the CSM, with the evidence
    (once,) = [d for d in uow.decisions.records if d.reason is Reason.NPS_DETRACTOR]
    assert once.kind == "reminder_deduplicated" and once.facts["told_as"] == "churn_risk"
    await feed(uow, [event(5, "nps_submitted", 25, score=9)])  # the episode ends
    ended = [d for d in uow.decisions.records if d.reason is Reason.CHURN_RISK_CLEARED]
    assert len(ended) == 1 and ended[0].account_id == r.account_id


async def test_a_detractor_who_is_no_customer_still_reminds_the_rep_as_before() -> None:
    uow = MemoryUnitOfWork()
    await feed(
        uow, [event(0, "page_viewed", 0, path="/blog"), event(1, "nps_submitted", 1, score=2)]
    )
    assert len(reminders(uow, "nps_detractor")) == 1 and not reminders(uow, "churn_risk")


async def test_the_reminder_goes_to_the_accounts_csm_when_the_success_team_has_one() -> None:
    config = default_nurture().model_copy(
        update={"teams": {"success": TeamConfig(lead="lee@reps.example", members={
            "lee@reps.example": TeamMember(timezone="UTC"),
            "cara@reps.example": TeamMember(timezone="Europe/Berlin")})}}
    )  # fmt: skip
    plan = Nurture(NurtureConfig.model_validate(config.model_dump()), (POOL,), ("reps.example",))
    uow = MemoryUnitOfWork()
    deal = event(1, "deal_closed_won", 0, deal_id="d1", csm_email="cara@reps.example")
    received = [(InboxEntry(deal.id, "t", 0, 0), deal)]
    await handle_engagement(uow, received, PLAYBOOK, WON, plan)
    await handle_value_watch(uow, plan, WON + timedelta(days=14))
    (r,) = reminders(uow, "early_churn_risk")
    assert r.rep == "cara@reps.example"


async def test_imported_history_is_watched_but_reminds_no_one() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, won(), historical=True)
    (w,) = uow.value_watches.watches()
    assert w.won_at == WON
    await handle_value_watch(uow, PLAN, WON + timedelta(days=60))  # day 14 long past
    assert not reminders(uow, "early_churn_risk")
    passed = [d for d in uow.decisions.records if d.reason is Reason.ACTIVATION_CHECK_TOO_LATE]
    assert len(passed) == 1


async def test_simulate_reports_the_at_risk_reminder_on_day_14() -> None:
    sim = await simulate_async(won(), PLAYBOOK, nurture=default_nurture(), reps=(POOL,),
                               horizon=timedelta(days=20))  # fmt: skip
    assert sim.world is not None
    (r,) = reminders(sim.world, "early_churn_risk")
    assert WON + timedelta(days=14) <= r.due_at < WON + timedelta(days=15)
    assert sim.touches is not None and sim.touches.as_dict()["reminders"]["early_churn_risk"] == 1


HISTORY = [  # a customer: won, seats, a detractor, a ticket spike, usage, then activation
    event(1, "deal_closed_won", 0, deal_id="d1"), event(2, "seats_changed", 1, seats=5),
    event(3, "nps_submitted", 3, who="ben", score=4),
    *[event(10 + i, "support_ticket_opened", 5 + i / 10, ticket_id=f"t{i}") for i in range(3)],
    *[event(20 + d, "feature_used", d) for d in range(2, 12)],
    event(4, "product_activated", 12), event(5, "nps_submitted", 20, who="ben", score=9),
]  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.permutations(HISTORY), st.lists(st.integers(1, 6), min_size=1, max_size=8))
async def test_any_arrival_order_reminds_once_per_episode_and_never_after_activation(
    arriving: list[EngagementEvent], sizes: list[int]
) -> None:
    """The history arrives in any order, in batches of any size, with the clock looking in
    between: the at-risk reminder comes at most once and only while no activation has been
    applied; each churn-risk episode is told once (a reminder, or within the 7 days every
    reminder rule shares per contact, logged as deduplicated)."""
    uow, now, i, k = MemoryUnitOfWork(), WON, 0, 0
    while i < len(arriving):
        batch = arriving[i : i + sizes[k % len(sizes)]]
        i, k = i + len(batch), k + 1
        now = max(now, *(e.time for e in batch)) + timedelta(hours=1)
        received = [(InboxEntry(e.id, "t", 0, n), e) for n, e in enumerate(batch)]
        activated_before = any(w.activated_at for w in uow.value_watches.watches())
        early_before = len(reminders(uow, "early_churn_risk"))
        await handle_engagement(uow, received, PLAYBOOK, now, PLAN)
        await handle_value_watch(uow, PLAN, now)
        if activated_before:
            assert len(reminders(uow, "early_churn_risk")) == early_before
    await handle_value_watch(uow, PLAN, now + timedelta(days=30))
    assert len(reminders(uow, "early_churn_risk")) <= 1
    (w,) = uow.value_watches.watches()
    again = [d for d in uow.decisions.records
             if d.kind == "reminder_deduplicated" and d.reason is Reason.CHURN_RISK]  # fmt: skip
    assert len(reminders(uow, "churn_risk")) + len(again) == w.episodes  # each episode told once


def _at(n: int, kind: str, day: float, who: str, account: dict[str, str], **props: Any) -> Any:
    return EngagementEvent.model_validate({
        "id": f"m-{n}", "type": kind, "source": "test",
        "time": (WON + timedelta(days=day)).isoformat(),
        "contact": {"external_id": who, "email": f"{who}@acme.example"},
        "account": account, "properties": props,
    })  # fmt: skip


async def test_a_merged_away_accounts_activation_counts_for_the_survivor() -> None:
    uow = MemoryUnitOfWork()
    domain, crm = {"domain": "acme.example"}, {"external_id": "crm-1"}
    await feed(uow, [_at(1, "product_activated", -3, "ana", domain)])  # a trial, by domain
    await feed(uow, [_at(2, "deal_closed_won", 0, "bo", crm, deal_id="d1")])  # the CRM's deal
    assert len(uow.value_watches.watches()) == 2
    await feed(uow, [_at(3, "page_viewed", 1, "bo", crm | domain, path="/docs")])  # one company
    (w,) = uow.value_watches.watches()
    assert w.won_at == WON and w.activated_at == WON - timedelta(days=3)
    await handle_value_watch(uow, PLAN, WON + timedelta(days=14))
    assert not reminders(uow, "early_churn_risk")  # the trial's activation counts


async def test_a_snoozed_churn_risk_reminder_comes_back_and_the_watch_adds_none() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, won())
    await feed(uow, [event(3, "product_activated", 1), event(4, "nps_submitted", 20, score=2)])
    (r,) = reminders(uow, "churn_risk")
    until = r.due_at + timedelta(days=2)
    await uow.reminders.set_status([r.id], "snoozed", r.due_at)
    uow.reminders.stored[r.id] = replace(uow.reminders.stored[r.id], snoozed_until=until)
    for day in (21, 22):  # the watch looks while it sleeps: the episode is still told
        await handle_value_watch(uow, PLAN, WON + timedelta(days=day))
    tended = await handle_reminder_clock(uow, until + timedelta(minutes=1), timedelta(days=14))
    assert tended.woken == 1 and uow.reminders.stored[r.id].status == "open"
    woke = [t for t in uow.touches.rows.values() if t.touch.template_id == "reminders/churn_risk"]
    assert len(woke) == 2  # the first call, and the one after the snooze
    assert len(reminders(uow, "churn_risk")) == 1
