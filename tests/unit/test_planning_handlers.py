"""Applying plans through the unit of work (``application.planning``), and the pure pieces the
adapters share: a stored touch read back for the planner, and consent rows admitted in order."""

from __future__ import annotations

from collections.abc import Sequence
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


async def test_a_demo_request_ends_the_education_sequence_with_one_row_per_skipped_touch() -> None:
    """``exit_on``: each planned touch of the sequence is skipped with SEQUENCE_EXITED, logged
    with its contact, account, touch, sequence and the event; the shared read of the touches
    knows it, so the replan that follows plans none of them again. Another contact's and an
    event that ends nothing change nothing."""
    uow = MemoryUnitOfWork()
    for c in ("c1", "c2"):
        await opted_in(uow, c)
        await planning.replan(uow, CTX, {c: recipient(c)}, {c: f"e-{c}"}, set(), [])
    exits = [("page_viewed", "c1", "p1"), ("demo_requested", "c1", "d1"),
             ("demo_requested", "c1", "d2")]  # fmt: skip
    existing = await uow.touches.existing({"c1", "c2"})
    log: list[DecisionRecord] = []
    await planning.exit_sequences(uow, CTX, exits, log, existing)
    mine = {r.touch.id: r for r in uow.touches.rows.values() if r.touch.contact_id == "c1"}
    assert {r.status for r in mine.values()} == {"skipped"}
    assert {r.reason for r in mine.values()} == {"SEQUENCE_EXITED"}
    assert sorted((r.contact_id, r.account_id, r.touch_id, r.event_id) for r in log) == sorted(
        ("c1", "a1", tid, "d1") for tid in mine
    )  # the first event that ended it
    assert {(r.kind, r.reason) for r in log} == {(TouchDecision.TOUCH_SKIPPED,
                                                   Reason.SEQUENCE_EXITED)}  # fmt: skip
    assert all(r.facts == {"sequence": "awareness-education"} for r in log)
    assert {t.status for t in existing["c1"]} == {"skipped"}  # the shared read follows
    assert {t.status for t in existing["c2"]} == {"planned"}
    others = [r.status for r in uow.touches.rows.values() if r.touch.contact_id == "c2"]
    assert others == ["planned"] * 3
    again: list[DecisionRecord] = []
    await planning.replan(uow, CTX, {"c1": recipient()}, {"c1": "e3"}, set(), again, existing)
    assert again == [] and len(uow.touches.rows) == 6  # nothing planned again


async def test_an_exit_with_nothing_planned_in_the_sequence_asks_the_store_nothing() -> None:
    uow = MemoryUnitOfWork()
    asked: list[str] = []
    skip = uow.touches.skip_sequence

    async def counted(
        sequence: str, contact_ids: Sequence[str], reason: str
    ) -> list[tuple[str, str, str | None]]:
        asked.append(sequence)
        return await skip(sequence, contact_ids, reason)

    uow.touches.skip_sequence = counted  # type: ignore[method-assign, assignment]
    existing = await uow.touches.existing({"c1"})
    await planning.exit_sequences(uow, CTX, [("demo_requested", "c1", "d1")], [], existing)
    assert asked == []
    await planning.exit_sequences(uow, CTX, [("demo_requested", "c1", "d1")], [])
    assert "awareness-education" in asked  # without the shared read: asked, found nothing


async def test_one_pass_plans_each_contact_and_says_why_each_step_is_not_planned() -> None:
    """Contacts of one pass each keep their own plan: the opted-in one's touches are stored,
    the other's steps are each logged as not planned, with the contact, account, event and the
    step's words (no touch id: nothing was stored)."""
    uow = MemoryUnitOfWork()
    await opted_in(uow, "c1")
    log: list[DecisionRecord] = []
    people = {"c1": recipient("c1"), "c2": recipient("c2")}
    await planning.replan(uow, CTX, people, {"c1": "e1", "c2": "e2"}, set(), log)
    assert sorted(r.touch.contact_id for r in uow.touches.rows.values()) == ["c1"] * 3
    refused = [r for r in log if r.kind == TouchDecision.TOUCH_NOT_PLANNED]
    steps = ["problem-framing", "industry-report", "how-others-solve"]
    assert [(r.reason, r.contact_id, r.account_id, r.touch_id, r.event_id) for r in refused] == [
        (Reason.NO_CONSENT, "c2", "a1", None, "e2")
    ] * 3
    assert [r.facts for r in refused] == [
        {"sequence": "awareness-education", "step": s, "channel": "email",
         "template": f"awareness/{s.replace('-', '_')}"}
        for s in steps
    ]  # fmt: skip
    planned = [r for r in log if r.kind == TouchDecision.TOUCH_PLANNED]
    assert [(r.contact_id, r.event_id) for r in planned] == [("c1", "e1")] * 3
