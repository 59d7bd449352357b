"""Edges of the frequency caps and the send windows: exactly at the minimum gap, no account cap,
and the zone a window is read in when the contact's is unknown or broken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.orchestrator.domain.caps import CapKind, Caps, SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.quiet_hours import resolve_timezone

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
EMAIL = TouchChannel.EMAIL


def sent(ago: timedelta, contact: str = "c1", account: str | None = "a1") -> SentTouch:
    return SentTouch(contact, account, EMAIL, NOW - ago)


def test_a_touch_exactly_one_minimum_gap_after_the_last_may_go() -> None:
    caps = Caps(min_gap=timedelta(hours=24))
    assert caps.violation("c1", "a1", EMAIL, [sent(timedelta(hours=24))], NOW) is None
    late = caps.violation("c1", "a1", EMAIL, [sent(timedelta(hours=23))], NOW)
    assert late is not None and late.kind is CapKind.MIN_GAP
    assert late.retry_at == NOW + timedelta(hours=1)


def test_without_an_account_cap_an_accounts_many_touches_hold_nothing_back() -> None:
    busy = [sent(timedelta(minutes=m), contact=f"c{m}") for m in range(1, 9)]
    assert Caps().violation("c0", "a1", EMAIL, busy, NOW) is None
    capped = Caps(account_per_day=3).violation("c0", "a1", EMAIL, busy, NOW)
    assert capped is not None and capped.kind is CapKind.ACCOUNT_CAP
    assert Caps(account_per_day=3).violation("c0", None, EMAIL, busy, NOW) is None


def test_a_broken_zone_falls_back_to_the_region_then_the_default_then_utc() -> None:
    regions = {"us-west": "America/Los_Angeles"}
    assert resolve_timezone("Not/AZone", "us-west", regions, "Europe/Berlin") == ZoneInfo(
        "America/Los_Angeles"
    )
    assert resolve_timezone("Not/AZone", "mars", regions, "Europe/Berlin") == ZoneInfo(
        "Europe/Berlin"
    )
    assert resolve_timezone(None, None, regions, "Asia/Kolkata") == ZoneInfo("Asia/Kolkata")
    assert resolve_timezone("Bad/One", None, {}, "Bad/Two") == ZoneInfo("UTC")
