"""Send windows in local time, deferral to the next opening, and DST (2026 EU and US changes)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.orchestrator.domain.quiet_hours import SendWindow, resolve_timezone

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
WEEKDAYS_9_TO_5 = SendWindow(days=frozenset(range(5)), start=time(9), end=time(17))
NIGHT_OWL = SendWindow(start=time(2, 30), end=time(4))  # every day, starts inside the DST gap


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "tz", "open_"),
    [
        (utc(2026, 5, 4, 7, 0), BERLIN, True),  # Mon 09:00 CEST
        (utc(2026, 5, 4, 6, 59), BERLIN, False),  # Mon 08:59 CEST
        (utc(2026, 5, 4, 15, 0), BERLIN, False),  # Mon 17:00 CEST: end is exclusive
        (utc(2026, 5, 9, 10, 0), BERLIN, False),  # Saturday
        (utc(2026, 5, 4, 13, 0), NEW_YORK, True),  # Mon 09:00 EDT
        (utc(2026, 5, 4, 12, 0), NEW_YORK, False),  # Mon 08:00 EDT
    ],
)
def test_business_hours_are_judged_in_the_contacts_local_time(
    now: datetime, tz: ZoneInfo, open_: bool
) -> None:
    assert WEEKDAYS_9_TO_5.contains(now, tz) is open_


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        # Friday evening before the EU spring change -> Monday 09:00 CEST (UTC+2)
        (utc(2026, 3, 27, 18, 0), BERLIN, utc(2026, 3, 30, 7, 0)),
        # Friday evening before the EU autumn change -> Monday 09:00 CET (UTC+1)
        (utc(2026, 10, 23, 18, 0), BERLIN, utc(2026, 10, 26, 8, 0)),
        # Friday evening before the US spring change -> Monday 09:00 EDT (UTC-4)
        (utc(2026, 3, 6, 23, 0), NEW_YORK, utc(2026, 3, 9, 13, 0)),
        # Friday evening before the US autumn change -> Monday 09:00 EST (UTC-5)
        (utc(2026, 10, 30, 23, 0), NEW_YORK, utc(2026, 11, 2, 14, 0)),
        # already open: now itself
        (utc(2026, 5, 4, 10, 0), BERLIN, utc(2026, 5, 4, 10, 0)),
        # early morning -> the same day's opening
        (utc(2026, 5, 4, 5, 0), BERLIN, utc(2026, 5, 4, 7, 0)),
    ],
)
def test_a_touch_outside_the_window_is_deferred_to_the_next_opening_across_dst(
    now: datetime, tz: ZoneInfo, expected: datetime
) -> None:
    assert WEEKDAYS_9_TO_5.next_open(now, tz) == expected
    assert WEEKDAYS_9_TO_5.contains(expected, tz)


@pytest.mark.parametrize(
    ("now", "tz", "transition"),
    [
        (utc(2026, 3, 28, 23, 0), BERLIN, utc(2026, 3, 29, 1, 0)),  # 02:30 does not exist
        (utc(2026, 3, 8, 5, 0), NEW_YORK, utc(2026, 3, 8, 7, 0)),
    ],
)
def test_a_window_starting_at_a_nonexistent_local_time_opens_at_the_transition(
    now: datetime, tz: ZoneInfo, transition: datetime
) -> None:
    opening = NIGHT_OWL.next_open(now, tz)
    assert opening == transition
    assert NIGHT_OWL.contains(opening, tz)
    assert opening.astimezone(tz).time() == time(3, 0)


@pytest.mark.parametrize(
    ("start", "now", "tz", "first"),
    [
        (time(2, 30), utc(2026, 10, 24, 23, 0), BERLIN, utc(2026, 10, 25, 0, 30)),  # CEST, not CET
        (time(1, 30), utc(2026, 11, 1, 3, 0), NEW_YORK, utc(2026, 11, 1, 5, 30)),  # EDT, not EST
    ],
)
def test_a_window_starting_at_an_ambiguous_local_time_opens_at_its_first_occurrence(
    start: time, now: datetime, tz: ZoneInfo, first: datetime
) -> None:
    assert SendWindow(start=start, end=time(5)).next_open(now, tz) == first


def test_the_zone_falls_back_from_contact_to_account_region_to_the_default() -> None:
    regions = {"eu-central": "Europe/Berlin"}
    assert resolve_timezone("America/New_York", "eu-central", regions, "UTC") == NEW_YORK
    assert resolve_timezone(None, "eu-central", regions, "UTC") == BERLIN
    assert resolve_timezone("Not/AZone", "mars", regions, "UTC") == ZoneInfo("UTC")


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        SendWindow(start=time(18), end=time(9))
