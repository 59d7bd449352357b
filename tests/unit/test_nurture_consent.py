"""The consent ledger: opt-in by default, later entries win, suppressions and do-not-contact."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    LegalBasis,
    Refusal,
    RefusedGrant,
    Suppression,
    SuppressionKind,
    admit_all,
    summary,
)

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
G, W = ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN


def entry(channel: Channel, status: ConsentStatus, minutes: int) -> ConsentEntry:
    return ConsentEntry("c1", channel, status, "form", "ev-1", T0 + timedelta(minutes=minutes))


def suppression(kind: SuppressionKind, minutes: int, channel: Channel | None = None) -> Suppression:
    return Suppression("c1", kind, "provider", "ev-2", T0 + timedelta(minutes=minutes), channel)


@pytest.mark.parametrize(
    ("channel", "allowed"),
    [(Channel.EMAIL, False), (Channel.SMS, False), (Channel.CALL, True)],
)
def test_an_empty_ledger_needs_opt_in_for_email_and_sms_but_not_calls(
    channel: Channel, allowed: bool
) -> None:
    assert ConsentLedger().allows(channel, T0) is allowed


def test_legitimate_interest_for_email_allows_email_without_an_entry() -> None:
    ledger = ConsentLedger(bases={Channel.EMAIL: LegalBasis.LEGITIMATE_INTEREST})
    assert ledger.allows(Channel.EMAIL, T0)
    assert not ledger.allows(Channel.SMS, T0)


def test_an_explicit_withdrawal_wins_even_under_legitimate_interest() -> None:
    ledger = ConsentLedger(
        entries=[entry(Channel.EMAIL, W, 0)],
        bases={Channel.EMAIL: LegalBasis.LEGITIMATE_INTEREST},
    )
    assert not ledger.allows(Channel.EMAIL, T0)


@pytest.mark.parametrize(
    ("history", "allowed"),
    [
        ([(G, 0)], True),
        ([(G, 0), (W, 5)], False),
        ([(W, 0), (G, 5)], True),
        ([(W, 5), (G, 0)], False),  # appended out of order: the later recorded_at wins
        ([(G, 0), (W, 0)], False),  # same instant: the later appended wins
    ],
)
def test_the_latest_entry_for_a_channel_decides(
    history: list[tuple[ConsentStatus, int]], allowed: bool
) -> None:
    ledger = ConsentLedger(entries=[entry(Channel.EMAIL, s, m) for s, m in history])
    assert ledger.allows(Channel.EMAIL, T0 + timedelta(hours=1)) is allowed


def test_an_entry_recorded_after_now_does_not_count_yet() -> None:
    ledger = ConsentLedger(entries=[entry(Channel.EMAIL, G, 0), entry(Channel.EMAIL, W, 60)])
    assert ledger.allows(Channel.EMAIL, T0 + timedelta(minutes=30))
    assert not ledger.allows(Channel.EMAIL, T0 + timedelta(minutes=60))


@pytest.mark.parametrize(
    ("kind", "blocked"),
    [
        (SuppressionKind.UNSUBSCRIBED, Channel.EMAIL),
        (SuppressionKind.HARD_BOUNCE, Channel.EMAIL),
        (SuppressionKind.COMPLAINT, Channel.EMAIL),
        (SuppressionKind.STOP, Channel.SMS),
    ],
)
def test_a_suppression_blocks_its_channel_immediately_and_only_that_channel(
    kind: SuppressionKind, blocked: Channel
) -> None:
    grants = [entry(c, G, 0) for c in Channel]
    ledger = ConsentLedger(entries=grants, suppressions=[suppression(kind, 1)])
    for channel in Channel:
        assert ledger.allows(channel, T0 + timedelta(minutes=1)) is (channel is not blocked)


def test_do_not_contact_overrides_every_channel_and_every_later_grant() -> None:
    ledger = ConsentLedger(
        entries=[entry(Channel.EMAIL, G, 10), entry(Channel.CALL, G, 10)],
        suppressions=[suppression(SuppressionKind.DO_NOT_CONTACT, 0)],
    )
    assert not any(ledger.allows(c, T0 + timedelta(hours=1)) for c in Channel)


def test_sms_start_after_stop_lifts_the_suppression() -> None:
    start = replace(entry(Channel.SMS, G, 10), actor=Actor.RECIPIENT)
    ledger = ConsentLedger(
        entries=[entry(Channel.SMS, G, 0), start],
        suppressions=[suppression(SuppressionKind.STOP, 5)],
    )
    assert not ledger.allows(Channel.SMS, T0 + timedelta(minutes=7))
    assert ledger.allows(Channel.SMS, T0 + timedelta(minutes=10))


@pytest.mark.parametrize("actor", [Actor.SOURCE, Actor.OPERATOR])
def test_a_grant_by_anyone_but_the_recipient_never_lifts_their_stop(actor: Actor) -> None:
    forged = replace(entry(Channel.SMS, G, 10), actor=actor)
    ledger = ConsentLedger(
        entries=[entry(Channel.SMS, G, 0), forged],
        suppressions=[suppression(SuppressionKind.STOP, 5)],
    )
    assert not ledger.allows(Channel.SMS, T0 + timedelta(minutes=60))
    refused = ledger.admit(replace(forged, recorded_at=T0 + timedelta(minutes=20)))
    assert isinstance(refused, RefusedGrant)
    assert refused.reason is Refusal.RECIPIENT_OPTED_OUT
    assert refused.blocked_by is not None and refused.blocked_by.kind is SuppressionKind.STOP


def test_a_grant_before_the_opt_out_or_on_another_channel_is_admitted() -> None:
    ledger = ConsentLedger(suppressions=[suppression(SuppressionKind.UNSUBSCRIBED, 5)])
    early, other = entry(Channel.EMAIL, G, 1), entry(Channel.SMS, G, 10)
    assert ledger.admit(early) is early and ledger.admit(other) is other


def test_a_withdrawal_is_always_admitted_and_a_grant_after_do_not_contact_refused() -> None:
    ledger = ConsentLedger(suppressions=[suppression(SuppressionKind.DO_NOT_CONTACT, 5)])
    withdrawal = entry(Channel.EMAIL, W, 10)
    assert ledger.admit(withdrawal) is withdrawal
    refused = ledger.admit(entry(Channel.EMAIL, G, 10))
    assert isinstance(refused, RefusedGrant) and refused.reason is Refusal.DO_NOT_CONTACT
    recipient = replace(entry(Channel.EMAIL, G, 10), actor=Actor.RECIPIENT)
    assert ledger.admit(recipient) is recipient
    assert not ledger.with_item(recipient).allows(Channel.EMAIL, T0 + timedelta(minutes=11))


def test_admitting_a_batch_folds_in_time_order() -> None:
    stop = suppression(SuppressionKind.STOP, 5, Channel.SMS)
    late_grant, early_grant = entry(Channel.SMS, G, 9), entry(Channel.SMS, G, 1)
    admitted = admit_all(ConsentLedger(), [late_grant, stop, early_grant])
    assert admitted[0] is early_grant and admitted[1] is stop
    assert isinstance(admitted[2], RefusedGrant) and admitted[2].entry is late_grant


def test_a_recipient_grant_at_the_same_instant_as_their_opt_out_does_not_lift_it() -> None:
    same_time = replace(entry(Channel.SMS, G, 5), actor=Actor.RECIPIENT)
    ledger = ConsentLedger(entries=[same_time], suppressions=[suppression(SuppressionKind.STOP, 5)])
    assert ledger.suppression(Channel.SMS, T0 + timedelta(hours=1)) is not None
    assert not ledger.allows(Channel.SMS, T0 + timedelta(hours=1))


def test_a_refused_grant_in_a_batch_is_kept_as_is_in_the_order_of_its_attempt() -> None:
    stop = suppression(SuppressionKind.STOP, 5, Channel.SMS)
    refused = RefusedGrant(entry(Channel.SMS, G, 9), Refusal.RECIPIENT_OPTED_OUT, stop)
    grant = entry(Channel.EMAIL, G, 7)
    admitted = admit_all(ConsentLedger(), [refused, grant, stop])
    assert admitted == [stop, grant, refused]


@pytest.mark.parametrize(
    ("item", "reason", "facts"),
    [
        (
            entry(Channel.EMAIL, G, 0),
            "granted",
            {"channel": "email", "actor": "source", "source": "form", "evidence": "ev-1"},
        ),
        (
            replace(entry(Channel.SMS, W, 0), actor=Actor.RECIPIENT),
            "withdrawn",
            {"channel": "sms", "actor": "recipient", "source": "form", "evidence": "ev-1"},
        ),
        (
            suppression(SuppressionKind.STOP, 0),
            "stop",
            {"channel": "sms", "source": "provider", "evidence": "ev-2"},
        ),
        (
            suppression(SuppressionKind.UNSUBSCRIBED, 0, Channel.SMS),
            "unsubscribed",
            {"channel": "sms", "source": "provider", "evidence": "ev-2"},
        ),
        (
            suppression(SuppressionKind.DO_NOT_CONTACT, 0, Channel.EMAIL),
            "do_not_contact",
            {"channel": "all", "source": "provider", "evidence": "ev-2"},
        ),
        (
            RefusedGrant(
                replace(entry(Channel.EMAIL, G, 9), actor=Actor.OPERATOR),
                Refusal.DO_NOT_CONTACT,
            ),
            "refused",
            {
                "channel": "email",
                "actor": "operator",
                "source": "form",
                "evidence": "ev-1",
                "refusal": "do_not_contact",
            },
        ),
    ],
)
def test_the_decision_log_says_what_changed_on_which_channel_and_by_whom(
    item: ConsentEntry | Suppression | RefusedGrant, reason: str, facts: dict[str, str]
) -> None:
    assert summary(item) == (reason, facts)
