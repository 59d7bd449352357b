"""``check_eligibility`` at the edges: the cap's own wait, a step's named window, whose clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import ConsentEntry, ConsentLedger, ConsentStatus
from services.orchestrator.domain.eligibility import (
    Allowed,
    PlannedTouch,
    Recipient,
    Skipped,
    SkipReason,
    check_eligibility,
)
from services.orchestrator.domain.stages import Stage

CONFIG = default_nurture()
MONDAY = datetime(2026, 5, 4, tzinfo=UTC)
NEW_YORK, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
OPTED_IN = ConsentLedger(
    [ConsentEntry("c1", Channel.EMAIL, ConsentStatus.GRANTED, "form", "ev", MONDAY - timedelta(1))],
    [],
    bases=CONFIG.legal_basis,
)
WHO = Recipient("c1", "acme", Stage.AWARENESS, NEW_YORK, rep_timezone=BERLIN)


def planned(channel: TouchChannel, window: str | None = None) -> PlannedTouch:
    return PlannedTouch("t1", "c1", "acme", "s", "step", Stage.AWARENESS, channel, "tpl", window,
                        MONDAY)  # fmt: skip


def check(
    touch: PlannedTouch, now: datetime, history: tuple[SentTouch, ...] = ()
) -> Allowed | Skipped:
    return check_eligibility(touch, WHO, OPTED_IN, history, CONFIG, now)


def test_a_capped_touch_waits_exactly_until_the_cap_lets_it_go() -> None:
    now = MONDAY + timedelta(hours=15)
    last = SentTouch("c1", "acme", TouchChannel.EMAIL, now - timedelta(hours=2))
    assert check(planned(TouchChannel.EMAIL), now, (last,)) == Skipped(
        SkipReason.MIN_GAP, retry_at=now + timedelta(hours=22)
    )


def test_a_touch_with_a_named_window_waits_for_that_window_not_its_channels() -> None:
    now = MONDAY + timedelta(hours=21, minutes=30)  # 17:30 in New York: email hours, not business
    assert check(planned(TouchChannel.EMAIL), now) == Allowed()
    assert check(planned(TouchChannel.EMAIL, "business_hours"), now) == Skipped(
        SkipReason.QUIET_HOURS,
        retry_at=MONDAY + timedelta(days=1, hours=13),  # 9:00 in New York
    )


def test_a_reminder_keeps_the_reps_hours_and_an_email_the_contacts() -> None:
    now = MONDAY + timedelta(hours=10)  # 12:00 in Berlin, 6:00 in New York
    assert check(planned(TouchChannel.REP_CALL_REMINDER), now) == Allowed()
    evening = MONDAY + timedelta(hours=20)  # 16:00 in New York, 22:00 in Berlin
    assert check(planned(TouchChannel.EMAIL), evening) == Allowed()
