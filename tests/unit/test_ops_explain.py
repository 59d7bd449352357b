"""Plain-words answers to "why?" (pure): one sentence per reason code, with the ledger's detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import (
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.ops.explain import describe, explain

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
JANE = {"id": "c1", "email": "jane@x.example", "stage": "engaged", "traits": {"first_name": "Jane"}}
TOUCH = {"id": "t1", "channel": "email", "template_id": "onboarding/kickoff", "stage": "engaged",
         "due_at": datetime(2026, 11, 18, 14, 0, tzinfo=UTC), "status": "skipped"}  # fmt: skip
RETRY = {"retry_at": "2026-11-19T08:00:00+00:00"}


def _decision(kind: str, reason: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": kind, "reason": reason, "facts": facts or {}, "touch_id": "t1",
            "decided_at": NOW}  # fmt: skip


def _answer(kind: str, reason: str, ledger: ConsentLedger | None = None, **facts: Any) -> str:
    result = explain(
        JANE, None, _decision(kind, reason, facts), TOUCH, ledger or ConsentLedger(), NOW
    )
    return str(result["answer"])


PLANNED = 'The email "onboarding kickoff" planned for 14:00 UTC on Wed 18 Nov 2026'


def test_no_consent_record_is_said_as_such() -> None:
    assert _answer("touch_skipped", "NO_CONSENT") == (
        f"{PLANNED} was not sent: Jane has not opted in to email (no consent record)."
    )


def test_a_withdrawal_names_its_date_and_source() -> None:
    ledger = ConsentLedger([ConsentEntry("c1", Channel.EMAIL, ConsentStatus.WITHDRAWN, "crm", "",
                                         NOW - timedelta(days=3))])  # fmt: skip
    assert _answer("touch_skipped", "NO_CONSENT", ledger).endswith(
        "Jane withdrew consent for email on 15 Nov 2026 (crm)."
    )


@pytest.mark.parametrize(
    ("kind", "reason", "facts", "expected"),
    [
        ("touch_deferred", "QUIET_HOURS", RETRY, "has not been sent yet: it fell in quiet hours "
         "in Jane's time zone; it is deferred to 08:00 UTC on Thu 19 Nov 2026."),
        ("touch_deferred", "FREQUENCY_CAP", RETRY, "Jane already had the most email touches"),
        ("touch_skipped", "SALES_OWNED", {}, "sales-owned stage (engaged)"),
        ("touch_skipped", "STAGE_EXITED", {}, "planned for the engaged stage"),
        ("touch_skipped", "NO_ADDRESS", {}, "there is no email address for Jane."),
        ("touch_planned", "STAGE_ENTERED", {}, "is planned for 14:00 UTC"),
    ],
)  # fmt: skip
def test_each_reason_has_its_sentence(
    kind: str, reason: str, facts: dict[str, Any], expected: str
) -> None:
    assert expected in _answer(kind, reason, **facts)


def test_a_suppression_says_what_happened() -> None:
    gone = Suppression("c1", SuppressionKind.UNSUBSCRIBED, "one-click", "", NOW - timedelta(days=1))
    ledger = ConsentLedger(suppressions=[gone])
    assert "Jane unsubscribed from email (one-click, 17 Nov 2026)" in _answer(
        "touch_skipped", "SUPPRESSED", ledger
    )


def test_without_any_touch_the_answer_says_so() -> None:
    result = explain(JANE, None, None, None, ConsentLedger(), NOW)
    assert result["answer"] == "No touch has been planned for Jane yet." and result["sent"] is None


EVERY_REASON = list(Reason)


@pytest.mark.parametrize("reason", EVERY_REASON, ids=str)
@pytest.mark.parametrize("kind", ["touch_skipped", "touch_not_planned", "touch_deferred"])
def test_every_reason_the_orchestrator_logs_has_words(kind: str, reason: str) -> None:
    answer = _answer(kind, reason)
    assert "no reason was recorded" not in answer and f"reason {reason}" not in answer
    assert answer.endswith(".") and f"({reason})" not in answer  # words, not the code
    assert "reason" not in answer.lower()


def test_each_reason_has_words_of_its_own() -> None:
    answers = {_answer("touch_skipped", r).split(": ", 1)[1] for r in EVERY_REASON}
    assert len(answers) == len(EVERY_REASON)


def test_a_step_not_planned_says_which_condition_failed() -> None:
    answer = explain(
        JANE,
        None,
        _decision(
            "touch_not_planned",
            "CONDITION_NOT_MET",
            {
                "channel": "email",
                "template": "advocate/referral_ask",
                "min_nps": "needs 9 or more; is 6",
            },
        ),
        None,
        ConsentLedger(),
        NOW,
    )["answer"]
    assert answer == (
        'The email "advocate referral ask" was not planned for Jane: its step\'s conditions do '
        "not hold for Jane (min_nps: needs 9 or more; is 6)."
    )  # fmt: skip


@pytest.mark.parametrize(
    ("channel", "template", "words"),
    [
        (TouchChannel.SMS, "onboarding/kickoff_sms", 'SMS "onboarding kickoff"'),
        (TouchChannel.EMAIL, "onboarding/kickoff", 'email "onboarding kickoff"'),
        (TouchChannel.REP_CALL_REMINDER, None, "call reminder to the rep"),
        (TouchChannel.REP_CALL_REMINDER, "reminders/demo_requested",
         'call reminder to the rep "reminders demo requested"'),
    ],
)  # fmt: skip
def test_a_touch_is_named_by_its_channel_then_its_template(
    channel: TouchChannel, template: str | None, words: str
) -> None:
    assert describe(channel, template) == words


def test_a_skipped_call_reminder_is_not_called_an_email() -> None:
    decision = _decision("touch_skipped", "NO_REP", {"channel": "rep_call_reminder",
                         "due_at": "2026-11-18T14:00:00+00:00"})  # fmt: skip
    answer = explain(JANE, None, decision, None, ConsentLedger(), NOW)["answer"]
    assert answer.startswith("The call reminder to the rep planned for 14:00 UTC")
    assert "no rep owns this contact" in answer
