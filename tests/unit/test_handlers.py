"""The orchestrator's handlers on a fake unit of work (the in-memory one simulate uses): each
handler's load -> decide -> save, without a database or a broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.events import EngagementEvent
from schemas.outcomes import TouchOutcome
from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.application.due import handle_due
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.outcomes import handle_outcomes
from services.orchestrator.application.reminder_clock import handle_reminder_clock
from services.orchestrator.application.unit_of_work import InboxEntry, NewReminder
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.people import Nurture

TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PLAN = Nurture(default_nurture(), ("pool@reps.example",), ("reps.example",))
PLAYBOOK = default_playbook()
EVIDENCE = {"method": "form", "form": "signup"}


def event(n: int, kind: str, at: datetime, who: str = "ana", **props: Any) -> EngagementEvent:
    return EngagementEvent.model_validate({
        "id": f"{who}-{n}", "type": kind, "source": "test", "time": at.isoformat(),
        "contact": {"external_id": who, "email": f"{who}@acme.example",
                    "traits": {"role": "manager", "timezone": "UTC"}},
        "account": {"external_id": "acme", "domain": "acme.example"}, "properties": props,
    })  # fmt: skip


async def feed(uow: MemoryUnitOfWork, events: list[EngagementEvent], now: datetime) -> int:
    received = [(InboxEntry(e.id, "t", 0, i), e) for i, e in enumerate(events)]
    return len(await handle_engagement(uow, received, PLAYBOOK, now, PLAN))


def kinds(uow: MemoryUnitOfWork, kind: TouchDecision) -> list[str]:
    return [str(r.reason) for r in uow.decisions.records if r.kind == kind]


def statuses(uow: MemoryUnitOfWork) -> dict[str, str]:
    return {r.touch.template_id: r.status for r in uow.touches.rows.values()}


async def test_an_opted_in_visitor_gets_the_awareness_emails_planned_and_a_replay_changes_nothing(
) -> None:  # fmt: skip
    uow = MemoryUnitOfWork()
    history = [event(1, "consent_given", TUESDAY, channel="email", **EVIDENCE),
               event(2, "page_viewed", TUESDAY, path="/blog")]  # fmt: skip
    assert await feed(uow, history, TUESDAY) == 2
    planned = statuses(uow)
    assert planned and set(planned.values()) == {"planned"}
    assert all(t.startswith("awareness/") for t in planned)
    assert kinds(uow, TouchDecision.TOUCH_PLANNED) == ["STAGE_ENTERED"] * len(planned)
    before = (len(uow.decisions.records), len(uow.contacts.history), dict(uow.touches.rows))
    assert await feed(uow, history, TUESDAY + timedelta(minutes=1)) == 0  # redelivered
    assert (len(uow.decisions.records), len(uow.contacts.history), uow.touches.rows) == before


async def test_without_consent_nothing_is_planned_and_each_step_says_why() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "page_viewed", TUESDAY, path="/blog")], TUESDAY)
    assert uow.touches.rows == {}
    assert set(kinds(uow, TouchDecision.TOUCH_NOT_PLANNED)) == {"NO_CONSENT"}


async def test_a_demo_request_calls_the_pool_rep_stores_the_owner_and_ends_the_education(
) -> None:  # fmt: skip
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "consent_given", TUESDAY, channel="email", **EVIDENCE),
                     event(2, "page_viewed", TUESDAY, path="/blog")], TUESDAY)  # fmt: skip
    later = TUESDAY + timedelta(minutes=20)
    await feed(uow, [event(3, "demo_requested", later)], later)
    (reminder,) = uow.reminders.stored.values()
    assert reminder.reason == "demo_requested" and reminder.rep == "pool@reps.example"
    (person,) = uow.contacts.view_of.values()
    assert person.owner_rep == "pool@reps.example"
    assert uow.accounts.view_of[str(person.account_id)].owner_rep == "pool@reps.example"
    skipped = {r.touch.template_id: r.reason for r in uow.touches.rows.values()
               if r.status == "skipped"}  # fmt: skip
    assert skipped and all(t.startswith("awareness/") for t in skipped)
    assert set(skipped.values()) <= {"SEQUENCE_EXITED", "STAGE_EXITED"}


async def test_due_touches_are_sent_once_and_a_withdrawal_before_then_skips_them() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "consent_given", TUESDAY, channel="email", **EVIDENCE),
                     event(2, "page_viewed", TUESDAY, path="/blog")], TUESDAY)  # fmt: skip
    first = min(r.touch.due_at for r in uow.touches.rows.values())
    claimed, sends = await handle_due(uow, PLAN, "me", first, 50)
    assert claimed == 1 and [c.template_id for c in sends] == ["awareness/problem_framing"]
    assert sends[0].to == "ana@acme.example"
    assert (await handle_due(uow, PLAN, "me", first, 50)) == (0, [])  # nothing sent twice
    gone = first + timedelta(days=1)
    await feed(uow, [event(3, "consent_withdrawn", gone, channel="email", **EVIDENCE)], gone)
    # the withdrawal cancelled the rest at once: nothing is left to claim, ever
    assert {r.status for r in uow.touches.rows.values()} == {"dispatched", "skipped"}
    assert (await handle_due(uow, PLAN, "me", gone + timedelta(days=60), 50)) == (0, [])


async def test_an_unsubscribe_outcome_cancels_the_planned_emails_with_its_event() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "consent_given", TUESDAY, channel="email", **EVIDENCE),
                     event(2, "page_viewed", TUESDAY, path="/blog")], TUESDAY)  # fmt: skip
    (cid,) = uow.contacts.view_of
    out = TouchOutcome(id="u1", contact_id=cid, channel="email", status="unsubscribed",
                       occurred_at=TUESDAY + timedelta(minutes=5))  # fmt: skip
    at = TUESDAY + timedelta(minutes=6)
    await handle_outcomes(uow, [(InboxEntry("outcome:u1", "o", 0, 0), out)], PLAN.config, "v", at)
    assert set(statuses(uow).values()) == {"skipped"}
    cancels = [r for r in uow.decisions.records if r.kind == TouchDecision.TOUCH_SKIPPED]
    assert cancels and {(str(r.reason), r.event_id) for r in cancels} == {
        ("SUPPRESSED", "outcome:u1")
    }


async def test_a_transient_failure_plans_a_retry_under_the_policy_and_only_then() -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "consent_given", TUESDAY, channel="email", **EVIDENCE),
                     event(2, "page_viewed", TUESDAY, path="/blog")], TUESDAY)  # fmt: skip
    first = min(r.touch.due_at for r in uow.touches.rows.values())
    (cmd,) = (await handle_due(uow, PLAN, "me", first, 50))[1]
    failed = TouchOutcome(id="f1", touch_id=cmd.touch_id, contact_id=cmd.contact_id,
                          channel="email", status="failed", retryable=True,
                          occurred_at=first)  # fmt: skip
    entry = InboxEntry("outcome:f1", "o", 0, 0)
    await handle_outcomes(uow, [(entry, failed)], PLAN.config, "v", first)  # no policy: final
    assert not [t for t in uow.touches.rows if "~r" in t]
    again = InboxEntry("outcome:f2", "o", 0, 1)
    failed2 = failed.model_copy(update={"id": "f2"})
    await handle_outcomes(uow, [(again, failed2)], PLAN.config, "v", first, PLAN.config.retry)
    assert [t for t in uow.touches.rows if t.startswith(cmd.touch_id + "~r")]
    assert kinds(uow, TouchDecision.TOUCH_RETRY_PLANNED) == ["PROVIDER_TRANSIENT"]


@pytest.mark.parametrize("snoozed", [False, True])
async def test_the_reminder_clock_expires_an_untouched_reminder_and_wakes_a_snoozed_one(
    snoozed: bool,
) -> None:
    uow = MemoryUnitOfWork()
    await feed(uow, [event(1, "page_viewed", TUESDAY, path="/blog")], TUESDAY)
    (cid,) = uow.contacts.view_of
    note = NewReminder("r1", "rep@reps.example", cid, None, "demo_requested", (), (), TUESDAY)
    await uow.reminders.add([note], TUESDAY)
    if snoozed:
        await uow.reminders.set_status(["r1"], "snoozed", TUESDAY)
        until = TUESDAY + timedelta(hours=2)
        uow.reminders.stored["r1"] = replace(uow.reminders.stored["r1"], snoozed_until=until)
    expiry = timedelta(days=14)
    tended = await handle_reminder_clock(uow, TUESDAY + timedelta(hours=3), expiry)
    assert (tended.woken, tended.expired) == ((1, 0) if snoozed else (0, 0))
    assert uow.reminders.stored["r1"].status == "open"
    assert bool(uow.touches.rows) is snoozed  # a woken reminder reminds the rep again
    # nobody acted within the expiry of its due time, woken or not: it expires, once
    late = await handle_reminder_clock(uow, TUESDAY + expiry + timedelta(days=1), expiry)
    assert (late.woken, late.expired) == (0, 1)
    assert uow.reminders.stored["r1"].status == "expired"
    assert kinds(uow, TouchDecision.TOUCH_SKIPPED) == ["REMINDER_EXPIRED"]


@pytest.mark.parametrize("remind_late", [True, False])
async def test_a_demo_request_that_arrives_days_late_reminds_only_if_the_plan_says_so(
    remind_late: bool,
) -> None:
    told = PLAN.config.reminders.model_copy(update={"remind_late": remind_late})
    plan = Nurture(PLAN.config.model_copy(update={"reminders": told}), PLAN.rep_pool)
    uow = MemoryUnitOfWork()
    asked = TUESDAY - timedelta(days=3)
    received = [(InboxEntry("ana-1", "t", 0, 0), event(1, "demo_requested", asked))]
    await handle_engagement(uow, received, PLAYBOOK, TUESDAY, plan)
    assert len(uow.reminders.stored) == (1 if remind_late else 0)
