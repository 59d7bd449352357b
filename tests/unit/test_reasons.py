"""One reason vocabulary: every reason the orchestrator logs is a ``Reason`` member, and the
"why" explainer has words of its own for each."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pytest

from schemas.outcomes import OutcomeStatus
from services.orchestrator.domain.consent import (
    ConsentLedger,
    ConsentStatus,
    SuppressionKind,
)
from services.orchestrator.domain.reasons import Reason, reason_of
from services.orchestrator.domain.reminders import ReminderAction, ReminderReason
from services.orchestrator.domain.stages import IgnoreReason, TransitionReason
from services.orchestrator.ops.explain import explain
from services.orchestrator.ops.reason_words import Said, words

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_words_of_its_own(reason: Reason) -> None:
    said = words(reason, Said("Ana", "email", "mql", "engaged", {}))
    assert said and "_" not in said and f"({reason})" not in said  # words, never a code
    others = {words(r, Said("Ana", "email", "mql", "engaged", {})) for r in Reason if r != reason}
    assert said not in others


@pytest.mark.parametrize("reason", list(Reason))
def test_the_why_answer_uses_them_never_a_code(reason: Reason) -> None:
    decision = {"kind": "touch_skipped", "reason": reason.value, "touch_id": "t1",
                "decided_at": NOW, "facts": {"channel": "sms"}}  # fmt: skip
    touch = {"channel": "sms", "template_id": "onboarding/kickoff_sms", "due_at": NOW,
             "stage": "onboarding", "status": "skipped"}  # fmt: skip
    contact = {"id": "c_1", "stage": "retained", "traits": {"first_name": "Ana"}}
    answer = explain(contact, None, decision, touch, ConsentLedger(), NOW)["answer"]
    assert 'SMS "onboarding kickoff"' in answer  # the channel, then the template in words
    assert "reason" not in answer.lower() and f"({reason})" not in answer


@pytest.mark.parametrize(
    "vocabulary",
    [
        TransitionReason,
        IgnoreReason,
        ReminderReason,
        ReminderAction,
        SuppressionKind,
        ConsentStatus,
        OutcomeStatus,
    ],
)
def test_the_lifecycle_consent_and_outcome_reasons_are_members_too(
    vocabulary: type[StrEnum],
) -> None:
    for member in vocabulary:
        value = member.value.upper() if vocabulary is ReminderAction else member.value
        assert reason_of(value) is not None, f"{vocabulary.__name__}.{member.name}"


def test_a_stage_change_reason_is_read_with_its_stage_and_an_unknown_one_is_said_so() -> None:
    assert reason_of("evidence:mql") is Reason.EVIDENCE
    assert reason_of("crm_event:sql:extra") is Reason.CRM_EVENT
    assert reason_of("SOMETHING_ELSE") is None
