"""The synthetic world is valid wire data, deterministic, and walks the whole funnel."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from schemas.events import EngagementEvent
from services.ingest.validation import check_vocabulary
from trellis.demo_world import build_world

START = datetime(2026, 9, 1, tzinfo=UTC)


def test_every_demo_event_passes_the_ingest_vocabulary() -> None:
    world = build_world(120, seed=3, start=START)
    events = [EngagementEvent.model_validate(e) for e in world]
    checked = check_vocabulary(events, [("events", i) for i in range(len(events))], ())
    assert len(checked) == len(world)


def test_the_same_seed_builds_the_same_world_and_another_seed_another() -> None:
    assert build_world(30, seed=1, start=START) == build_world(30, seed=1, start=START)
    assert build_world(30, seed=1, start=START) != build_world(30, seed=2, start=START)


def test_the_world_reaches_every_part_of_the_funnel_in_time_order() -> None:
    world = build_world(400, seed=5, start=START)
    kinds = Counter(e["type"] for e in world)
    for kind in ("page_viewed", "demo_requested", "deal_closed_won", "deal_closed_lost",
                 "nps_submitted", "subscription_cancelled", "seats_changed"):  # fmt: skip
        assert kinds[kind] > 0, kind
    assert [e["time"] for e in world] == sorted(e["time"] for e in world)
    assert len({e["id"] for e in world}) == len(world)
