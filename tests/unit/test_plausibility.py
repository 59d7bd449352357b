"""What a time, an identifier or a nested value may be before we accept it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from schemas.plausibility import MAX_DEPTH, TimeWindow, depth, has_control_characters

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "value", "problem"),
    [
        (TimeWindow(), NOW, None),
        (TimeWindow(), datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
         "time is before 2000-01-01T00:00:00+00:00"),
        (TimeWindow(), NOW + timedelta(days=1, seconds=1), "time is more than 1 day in the future"),
        (TimeWindow(ahead=timedelta(days=2)), NOW + timedelta(days=3),
         "time is more than 2 days in the future"),
        (TimeWindow(ahead=timedelta(hours=1)), NOW + timedelta(hours=2),
         "time is more than 3600 s in the future"),
        (TimeWindow(ahead=timedelta(days=1, hours=1)), NOW + timedelta(days=2),
         "time is more than 90000 s in the future"),
        (TimeWindow(), datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
         "time is outside the representable range"),
    ],
)  # fmt: skip
def test_a_time_outside_the_window_is_refused_with_words_a_producer_can_act_on(
    window: TimeWindow, value: datetime, problem: str | None
) -> None:
    assert window.problem(value, NOW) == problem


@pytest.mark.parametrize(
    ("text", "has_them"),
    [
        ("c-1", False),
        ("Zoë Ünal <zoe@acme.example>", False),
        ("a\x00b", True),
        ("line\nbreak", True),
        ("\x1f", True),
        ("del\x7f", True),
    ],
)
def test_c0_controls_and_del_are_control_characters(text: str, has_them: bool) -> None:
    assert has_control_characters(text) is has_them


@pytest.mark.parametrize(
    ("value", "levels"),
    [
        ("leaf", 0),
        (7, 0),
        ({}, 1),
        ([], 1),
        ({"a": 1, "b": [2, {"c": 3}]}, 3),
        ([[["x"]], 1], 3),  # a scalar met first does not end the walk
        ({"a": {"b": {}}, "z": None}, 3),
    ],
)
def test_depth_counts_nested_objects_and_lists(value: Any, levels: int) -> None:
    assert depth(value) == levels


def test_depth_stops_counting_just_past_the_limit() -> None:
    deep: Any = "leaf"
    for _ in range(100):
        deep = [deep]
    assert depth(deep, limit=5) == 6
    assert depth(deep) == MAX_DEPTH + 1
    assert depth(deep, limit=100) == 100
