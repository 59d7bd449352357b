"""Applying plans through the unit of work (``application.planning``), and the pure pieces the
adapters share: a stored touch read back for the planner, and consent rows admitted in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.application import planning
from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    LedgerRow,
    RefusedGrant,
    Suppression,
    SuppressionKind,
    admit_rows,
)
from services.orchestrator.domain.eligibility import Recipient
from services.orchestrator.domain.holdout import held_out
from services.orchestrator.domain.planner import ExistingTouch, NotPlanned, plan_contact
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import TouchDecision

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CTX = planning.Context(default_nurture(), NOW)


def grant(contact: str, channel: Channel, at: datetime, actor: Actor = Actor.SOURCE) -> LedgerRow:
    entry = ConsentEntry(contact, channel, ConsentStatus.GRANTED, "form", "method=form", at, actor)
    return LedgerRow(entry, f"g-{contact}-{at:%H%M}")


def test_a_stored_touch_reads_back_as_the_planner_sees_it() -> None:
    known = ExistingTouch.stored("t1", "onboarding-kickoff/kickoff-sms", "onboarding", "sms",
                                 "skipped", "NO_CONSENT")  # fmt: skip
    assert known == ExistingTouch("t1", "onboarding-kickoff", "kickoff-sms", Stage.ONBOARDING,
                                  TouchChannel.SMS, "skipped", "NO_CONSENT")  # fmt: skip
    assert known.revivable and not known.is_planned
    odd = ExistingTouch.stored("t2", None, "merged", "email", "planned", None)
    assert (odd.sequence_id, odd.step_id, odd.stage) == ("", "", None) and odd.is_planned


def test_consent_rows_are_admitted_per_contact_in_the_order_they_were_made() -> None:
    stop = Suppression("c1", SuppressionKind.STOP, "twilio", "", NOW, Channel.SMS)
    ledgers = {"c1": ConsentLedger(suppressions=[stop])}
    late = grant("c1", Channel.SMS, NOW + timedelta(hours=2))
    early = grant("c1", Channel.EMAIL, NOW + timedelta(hours=1))
    other = grant("c2", Channel.SMS, NOW + timedelta(hours=3))
    written = admit_rows(ledgers, [late, other, early])
    assert [r.event_id for r in written] == [early.event_id, late.event_id, other.event_id]
    assert isinstance(written[1].item, RefusedGrant)  # only the recipient lifts their STOP
    assert written[0].item == early.item and written[2].item == other.item  # c2: a fresh ledger


def recipient(contact: str = "c1", stage: Stage = Stage.AWARENESS) -> Recipient:
    return Recipient(contact, "a1", stage, ZoneInfo("UTC"), role="manager")


async def opted_in(uow: MemoryUnitOfWork, contact: str = "c1") -> None:
    await uow.consent.record([grant(contact, Channel.EMAIL, NOW - timedelta(days=1))])


def kinds(log: list[DecisionRecord]) -> list[tuple[str, str]]:
    return [(str(r.kind), str(r.reason)) for r in log]


async def test_replan_stores_the_stages_touches_and_logs_each_with_its_facts_and_event() -> None:
    uow = MemoryUnitOfWork()
    await opted_in(uow)
    log: list[DecisionRecord] = []
    await planning.replan(uow, CTX, {"c1": recipient()}, {"c1": "e1"}, set(), log)
    stored = sorted(uow.touches.rows.values(), key=lambda r: r.touch.due_at)
    assert [r.touch.template_id for r in stored] == [
        "awareness/problem_framing", "awareness/industry_report", "awareness/how_others_solve"
    ]  # fmt: skip
    assert {r.status for r in stored} == {"planned"}
    first = log[0]
    assert (first.kind, first.reason, first.event_id) == (
        TouchDecision.TOUCH_PLANNED,
        Reason.STAGE_ENTERED,
        "e1",
    )
    touch = stored[0].touch
    assert first.facts == {"sequence": "awareness-education", "step": "problem-framing",
                           "channel": "email", "template": touch.template_id,
                           "due_at": touch.due_at.isoformat()}  # fmt: skip
    assert first.touch_id == touch.id and first.account_id == "a1"
    again: list[DecisionRecord] = []
    await planning.replan(uow, CTX, {"c1": recipient()}, {"c1": "e2"}, set(), again)
    assert again == [] and len(uow.touches.rows) == 3  # never a second copy


async def test_moving_on_cancels_the_old_stages_touches_with_the_event_that_moved_it() -> None:
    uow = MemoryUnitOfWork()
    await opted_in(uow)
    await planning.replan(uow, CTX, {"c1": recipient()}, {"c1": "e1"}, set(), [])
    log: list[DecisionRecord] = []
    await planning.replan(uow, CTX, {"c1": recipient(stage=Stage.SQL)}, {"c1": "e2"}, set(), log)
    skipped = [r for r in log if r.kind == TouchDecision.TOUCH_SKIPPED]
    assert len(skipped) == 3 and {(r.reason, r.event_id) for r in skipped} == {
        (Reason.STAGE_EXITED, "e2")
    }
    assert all(r.facts == {"channel": "email"} for r in skipped)
    calls = [r.touch for r in uow.touches.rows.values() if r.status == "planned"]
    assert [t.channel for t in calls] == ["rep_call_reminder"]


async def test_a_rule_already_calling_the_rep_leaves_out_the_plans_own_call() -> None:
    uow = MemoryUnitOfWork()
    log: list[DecisionRecord] = []
    await planning.replan(uow, CTX, {"c1": recipient(stage=Stage.SQL)}, {}, {"c1"}, log)
    assert uow.touches.rows == {} and log == []


async def test_a_suppression_cancels_the_planned_emails_and_names_its_outcome() -> None:
    uow = MemoryUnitOfWork()
    await opted_in(uow)
    await planning.replan(uow, CTX, {"c1": recipient()}, {"c1": "e1"}, set(), [])
    gone = Suppression("c1", SuppressionKind.UNSUBSCRIBED, "link", "", NOW, Channel.EMAIL)
    await uow.consent.record([LedgerRow(gone, "outcome:u1")])
    log: list[DecisionRecord] = []
    ctx = planning.Context(default_nurture(), NOW + timedelta(minutes=1))
    await planning.cancel_unreachable(uow, ctx, {"c1": "outcome:u1"}, {"c1": "a1"}, log)
    assert {r.status for r in uow.touches.rows.values()} == {"skipped"}
    assert {(r.reason, r.event_id, r.account_id) for r in log} == {
        (Reason.SUPPRESSED, "outcome:u1", "a1")
    }
    assert len(log) == 3


def test_a_reminders_step_names_its_reminder_after_the_last_slash() -> None:
    woken = ExistingTouch.stored("t9", "reminder/demo_requested/r_1", "sql", "rep_call_reminder",
                                 "planned", None)  # fmt: skip
    assert (woken.sequence_id, woken.step_id) == ("reminder", "demo_requested/r_1")


def test_a_held_out_contact_is_told_each_step_it_would_have_had() -> None:
    plan = default_nurture().model_copy(update={"holdout": 0.5})
    cid = next(f"c{i}" for i in range(200) if held_out(0.5, f"c{i}", "awareness-education"))
    ledger = ConsentLedger(entries=[grant(cid, Channel.EMAIL, NOW - timedelta(days=1)).item])  # type: ignore[list-item]
    result = plan_contact(plan, recipient(cid), ledger, [], NOW)
    assert result.create == () and len(result.not_planned) == 3
    first = result.not_planned[0]
    assert first == NotPlanned(
        cid, "a1", "awareness-education", "problem-framing", TouchChannel.EMAIL,
        "awareness/problem_framing", Reason.HOLDOUT,
        {"stage": "awareness", "holdout": "50%", "by": "contact"},
    )  # fmt: skip
