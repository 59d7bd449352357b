"""Snooze choices on a reminder link's page: lengths offered, tomorrow morning in the rep's
zone, a picked day bounded by the longest snooze."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.orchestrator.ops.reminder_pages import chosen_until, day_bounds, snooze_choices

NOW = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)  # already Friday 07:30 in Tokyo
TOKYO = ZoneInfo("Asia/Tokyo")
CHICAGO = ZoneInfo("America/Chicago")


def test_tomorrow_morning_is_the_reps_tomorrow_at_nine() -> None:
    tomorrow = {c.value: c.until for c in snooze_choices(NOW, TOKYO)}["tomorrow"]
    assert tomorrow == datetime(2026, 11, 28, 9, 0, tzinfo=TOKYO)  # Saturday, in Tokyo
    in_chicago = {c.value: c.until for c in snooze_choices(NOW, CHICAGO)}["tomorrow"]
    assert in_chicago == datetime(2026, 11, 27, 9, 0, tzinfo=CHICAGO)


@pytest.mark.parametrize(
    ("choice", "day", "until"),
    [
        ("1h", "", NOW + timedelta(hours=1)),
        ("4h", "", NOW + timedelta(hours=4)),
        ("date", "2026-12-03", datetime(2026, 12, 3, 9, 0, tzinfo=CHICAGO)),
        ("date", "2026-12-26", datetime(2026, 12, 26, 9, 0, tzinfo=CHICAGO)),
    ],
)
def test_each_choice_ends_the_snooze_when_it_says(choice: str, day: str, until: datetime) -> None:
    assert chosen_until(choice, day, NOW, CHICAGO) == until


@pytest.mark.parametrize(
    ("choice", "day", "problem"),
    [
        ("date", "2026-11-26", "Pick a day from 27 Nov to 26 Dec 2026."),  # today: not ahead
        ("date", "2026-12-27", "Pick a day from 27 Nov to 26 Dec 2026."),  # past 30 days
        ("date", "soon", "Pick a day to snooze until."),
        ("forever", "", "Choose how long to snooze."),
    ],
)
def test_a_choice_outside_the_bounds_is_refused_in_words(
    choice: str, day: str, problem: str
) -> None:
    assert chosen_until(choice, day, NOW, CHICAGO) == problem


def test_the_last_day_offered_ends_within_the_longest_snooze() -> None:
    first, last = day_bounds(NOW, CHICAGO)
    assert (first, last) == (date(2026, 11, 27), date(2026, 12, 26))
