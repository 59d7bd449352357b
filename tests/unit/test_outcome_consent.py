"""What outcomes and consent events mean for the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.commands import Channel as WireChannel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.outcomes import consent_from_event, suppression_for

AT = datetime(2026, 11, 20, tzinfo=UTC)


def outcome(status: OutcomeStatus, channel: WireChannel, retryable: bool = False) -> TouchOutcome:
    return TouchOutcome(
        id="o1",
        contact_id="c1",
        channel=channel,
        status=status,
        retryable=retryable,
        occurred_at=AT,
    )


@pytest.mark.parametrize(
    ("status", "channel", "kind", "blocks"),
    [
        (
            OutcomeStatus.UNSUBSCRIBED,
            WireChannel.EMAIL,
            SuppressionKind.UNSUBSCRIBED,
            Channel.EMAIL,
        ),
        (OutcomeStatus.STOP, WireChannel.SMS, SuppressionKind.STOP, Channel.SMS),
        (OutcomeStatus.BOUNCED, WireChannel.EMAIL, SuppressionKind.HARD_BOUNCE, Channel.EMAIL),
        (OutcomeStatus.COMPLAINED, WireChannel.EMAIL, SuppressionKind.COMPLAINT, Channel.EMAIL),
    ],
)
def test_consent_outcomes_suppress_their_channel(
    status: OutcomeStatus, channel: WireChannel, kind: SuppressionKind, blocks: Channel
) -> None:
    s = suppression_for(outcome(status, channel))
    assert s is not None and s.kind is kind and s.blocks is blocks and s.recorded_at == AT


@pytest.mark.parametrize(
    "status", [OutcomeStatus.SENT, OutcomeStatus.DELIVERED, OutcomeStatus.FAILED]
)
def test_delivery_outcomes_are_not_consent_changes(status: OutcomeStatus) -> None:
    assert suppression_for(outcome(status, WireChannel.EMAIL)) is None


def test_a_soft_bounce_does_not_suppress() -> None:
    assert suppression_for(outcome(OutcomeStatus.BOUNCED, WireChannel.EMAIL, True)) is None


def test_consent_events_become_ledger_entries_and_the_latest_wins() -> None:
    given = consent_from_event("c1", "consent_given", {"channel": "sms"}, "web-form", AT)
    later = AT.replace(day=21)
    withdrawn = consent_from_event("c1", "consent_withdrawn", {"channel": "sms"}, "crm", later)
    assert isinstance(given, ConsentEntry) and given.status is ConsentStatus.GRANTED
    assert isinstance(withdrawn, ConsentEntry)
    ledger = ConsentLedger(entries=[given, withdrawn])
    assert ledger.allows(Channel.SMS, AT.replace(hour=12))
    assert not ledger.allows(Channel.SMS, later)


def test_withdrawing_all_channels_is_do_not_contact() -> None:
    s = consent_from_event("c1", "consent_withdrawn", {"channel": "all"}, "crm", AT)
    assert isinstance(s, Suppression) and s.kind is SuppressionKind.DO_NOT_CONTACT


def test_other_events_and_unknown_channels_change_nothing() -> None:
    assert consent_from_event("c1", "page_viewed", {}, "web", AT) is None
    assert consent_from_event("c1", "consent_given", {"channel": "fax"}, "web", AT) is None
