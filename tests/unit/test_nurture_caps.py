"""Frequency caps: per channel per rolling window, minimum gap, per account per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.orchestrator.domain.caps import CapKind, Caps, ChannelCap, SentTouch
from services.orchestrator.domain.channels import TouchChannel

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
EMAIL, SMS = TouchChannel.EMAIL, TouchChannel.SMS
CAPS = Caps(
    per_channel={EMAIL: ChannelCap(max_touches=2, window=timedelta(days=7))},
    min_gap=timedelta(hours=24),
    account_per_day=2,
)


def sent(contact: str, hours_ago: float, channel: TouchChannel = EMAIL) -> SentTouch:
    return SentTouch(contact, "acme", channel, T0 - timedelta(hours=hours_ago))


def test_a_first_touch_breaks_no_cap() -> None:
    assert CAPS.violation("c1", "acme", EMAIL, [], T0) is None


def test_a_touch_within_the_minimum_gap_waits_until_the_gap_has_passed() -> None:
    v = CAPS.violation("c1", "acme", SMS, [sent("c1", 2)], T0)
    assert v is not None and v.kind is CapKind.MIN_GAP
    assert v.retry_at == T0 + timedelta(hours=22)


def test_a_third_email_in_seven_days_waits_until_the_oldest_leaves_the_window() -> None:
    v = CAPS.violation("c1", "acme", EMAIL, [sent("c1", 100), sent("c1", 30)], T0)
    assert v is not None and v.kind is CapKind.FREQUENCY_CAP
    assert v.retry_at == T0 - timedelta(hours=100) + timedelta(days=7)


def test_an_email_older_than_the_window_no_longer_counts() -> None:
    assert CAPS.violation("c1", "acme", EMAIL, [sent("c1", 24 * 7), sent("c1", 30)], T0) is None


def test_the_account_cap_counts_touches_to_all_its_stakeholders() -> None:
    v = CAPS.violation("c3", "acme", EMAIL, [sent("c1", 5), sent("c2", 3)], T0)
    assert v is not None and v.kind is CapKind.ACCOUNT_CAP
    assert v.retry_at == T0 + timedelta(hours=19)


def test_rep_reminders_neither_count_nor_are_capped() -> None:
    history = [sent("c1", 1, TouchChannel.REP_CALL_REMINDER)]
    assert CAPS.violation("c1", "acme", EMAIL, history, T0) is None
    assert CAPS.violation("c1", "acme", TouchChannel.REP_CALL_REMINDER, [sent("c1", 1)], T0) is None


def test_touches_recorded_after_now_are_ignored() -> None:
    assert CAPS.violation("c1", "acme", EMAIL, [sent("c1", -1)], T0) is None
