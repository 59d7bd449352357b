"""What outcomes and consent events mean for the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.commands import Channel as WireChannel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)
from services.orchestrator.domain.outcomes import (
    consent_for,
    consent_from_event,
    evidence_of,
    suppression_for,
)

AT = datetime(2026, 11, 20, tzinfo=UTC)


def outcome(
    status: OutcomeStatus,
    channel: WireChannel,
    retryable: bool = False,
    detail: str | None = None,
    provider_id: str | None = None,
) -> TouchOutcome:
    return TouchOutcome(
        id="o1",
        contact_id="c1",
        channel=channel,
        status=status,
        retryable=retryable,
        occurred_at=AT,
        detail=detail,
        provider_id=provider_id,
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


@pytest.mark.parametrize(
    ("detail", "provider_id", "evidence"),
    [
        ("550 mailbox unknown", "msg-1", "550 mailbox unknown"),
        (None, "msg-1", "msg-1"),
        (None, None, ""),
    ],
)
def test_a_suppression_records_the_outcome_as_its_source_and_evidence(
    detail: str | None, provider_id: str | None, evidence: str
) -> None:
    s = suppression_for(
        outcome(OutcomeStatus.UNSUBSCRIBED, WireChannel.SMS, detail=detail, provider_id=provider_id)
    )
    assert s == Suppression(
        "c1", SuppressionKind.UNSUBSCRIBED, "outcome:unsubscribed", evidence, AT, Channel.SMS
    )  # an unsubscribe from an SMS blocks SMS, not the kind's default (email)


@pytest.mark.parametrize(
    ("status", "channel", "given", "evidence"),
    [
        (OutcomeStatus.START, WireChannel.SMS, Channel.SMS, "keyword START"),
        (OutcomeStatus.CONFIRMED, WireChannel.EMAIL, Channel.EMAIL, "double-opt-in link confirmed"),
    ],
)  # fmt: skip
def test_the_recipients_own_act_is_a_grant_by_the_recipient(
    status: OutcomeStatus, channel: WireChannel, given: Channel, evidence: str
) -> None:
    grant = consent_for(outcome(status, channel))
    assert grant == ConsentEntry(
        "c1", given, ConsentStatus.GRANTED, f"outcome:{status.value}", evidence, AT,
        Actor.RECIPIENT,
    )  # fmt: skip
    assert grant.lifts_opt_out


def test_a_recipient_act_keeps_the_providers_detail_as_evidence() -> None:
    grant = consent_for(outcome(OutcomeStatus.START, WireChannel.SMS, detail="START via +1415"))
    assert grant is not None and grant.evidence == "START via +1415"


@pytest.mark.parametrize(
    "status", [s for s in OutcomeStatus if s not in (OutcomeStatus.START, OutcomeStatus.CONFIRMED)]
)
def test_no_other_outcome_is_a_recipient_grant(status: OutcomeStatus) -> None:
    assert consent_for(outcome(status, WireChannel.SMS)) is None


PROOF = {"method": "form", "form": "newsletter", "ip": "203.0.113.9"}
PROOF_TEXT = "method=form; form=newsletter; ip=203.0.113.9"


def test_a_consent_event_becomes_an_entry_with_its_source_evidence_and_time() -> None:
    given = consent_from_event("c1", "consent_given", {"channel": "SMS", **PROOF}, "web", AT)
    assert given == ConsentEntry("c1", Channel.SMS, ConsentStatus.GRANTED, "web", PROOF_TEXT, AT)


def test_a_consent_event_without_a_channel_is_about_email() -> None:
    given = consent_from_event("c1", "consent_given", {}, "web", AT)
    assert isinstance(given, ConsentEntry) and given.channel is Channel.EMAIL


def test_do_not_contact_keeps_the_events_source_evidence_and_time() -> None:
    props = {"channel": "ALL", "reason": "asked by phone"}
    s = consent_from_event("c1", "consent_withdrawn", props, "crm", AT)
    assert s == Suppression(
        "c1", SuppressionKind.DO_NOT_CONTACT, "crm", "reason=asked by phone", AT
    )


@pytest.mark.parametrize(
    ("properties", "evidence"),
    [
        ({}, ""),
        ({"ip": "203.0.113.9", "method": "form"}, "method=form; ip=203.0.113.9"),
        ({"method": "form", "form": "", "page": None, "ip": "::1"}, "method=form; ip=::1"),
        ({"channel": "sms", "reason": "moved"}, "reason=moved"),
    ],
)  # fmt: skip
def test_evidence_lists_the_known_proof_fields_in_a_fixed_order_and_skips_empty_ones(
    properties: dict[str, object], evidence: str
) -> None:
    assert evidence_of(properties) == evidence
