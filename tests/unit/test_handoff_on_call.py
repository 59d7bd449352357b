"""A demo request tells the rep once: the SQL handoff rides on the call reminder the same batch
made for the same person and owner (no second reminder), acknowledging the call takes the
handoff, and a breach reminds under the call. A handoff to someone else keeps its own."""

from __future__ import annotations

from datetime import timedelta

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.handoff_clock import handle_handoff_clock
from services.orchestrator.application.handoff_done import handoff_taken
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.handoffs import HandoffKind
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.people import Nurture
from tests.unit.test_handoff_handlers import PLAN, PLAYBOOK, TUESDAY_10, event

POOLED = Nurture(PLAN.config, ("pat@co.example",), ("co.example",))


async def _demo(uow: MemoryUnitOfWork, plan: Nurture) -> None:
    asked = event(1, "demo_requested", TUESDAY_10)
    await handle_engagement(uow, [(InboxEntry(asked.id, "t", 0, 1), asked)], PLAYBOOK,
                            TUESDAY_10, plan)  # fmt: skip


async def test_the_sql_handoff_rides_on_the_demo_requests_call_reminder() -> None:
    uow = MemoryUnitOfWork()
    await _demo(uow, POOLED)
    (h,) = [h for h in uow.handoffs.stored.values() if h.kind is HandoffKind.SQL_FIRST_CONTACT]
    told = [r for r in uow.reminders.stored.values() if r.rep == h.owner]
    assert [r.reason for r in told] == ["demo_requested"], "the rep is told once, by the call"
    assert h.owner == "pat@co.example" and h.reminder_id == told[0].id
    created = [r for r in uow.decisions.records if r.kind == TouchDecision.HANDOFF_CREATED]
    assert [r.facts.get("on_call_reminder") for r in created] == [True]
    assert created[0].touch_id == told[0].id
    calls = [t for t in uow.touches.rows.values() if t.touch.contact_id == h.contact_id]
    assert len(calls) == len({t.touch.id for t in calls}) == 1  # one call touch, no other

    await handle_handoff_clock(uow, POOLED, h.deadline_at)  # nobody called: breached
    (breach,) = [t for t in uow.touches.rows.values()
                 if t.touch.template_id == "reminders/handoff_breached"]  # fmt: skip
    assert (breach.touch.sequence_step or "").endswith(told[0].id)  # under the call

    assert await handoff_taken(uow, told[0].id, TUESDAY_10 + timedelta(hours=5), "rep") == 1
    done = uow.handoffs.stored[h.id]
    assert done.completed_at == done.accepted_at == TUESDAY_10 + timedelta(hours=5)


async def test_a_handoff_to_someone_not_being_called_keeps_its_own_reminder() -> None:
    """No pool: the team's least-loaded member takes the handoff; whoever the call goes to, the
    owner hears of the handoff exactly once, by the handoff's reminder unless it is their call."""
    uow = MemoryUnitOfWork()
    await _demo(uow, PLAN)
    (h,) = [h for h in uow.handoffs.stored.values() if h.kind is HandoffKind.SQL_FIRST_CONTACT]
    mine = [r for r in uow.reminders.stored.values() if r.rep == h.owner]
    assert h.reminder_id in {r.id for r in mine}
    assert len(mine) == 1
    call = [r for r in uow.reminders.stored.values() if r.reason == "demo_requested"]
    if call and call[0].rep == h.owner:
        assert mine[0].reason == "demo_requested"
    else:
        assert mine[0].reason == "handoff_sql_first_contact"
