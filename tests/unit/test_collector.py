"""The collector at safe points: nothing collected under the threshold, CPython's generation
rule over it, the timer's safe points, and automatic collection handed back."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from trellis.collector import Collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """A reference cycle only the cyclic collector frees; a weak reference to watch it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def held() -> Iterator[None]:
    """Automatic collection off for the test, as the collector holds it; on again after."""
    was = gc.isenabled()
    gc.disable()
    gc.collect()
    yield
    gc.unfreeze()  # what a full collection at a safe point froze, back under the collector
    if was:
        gc.enable()


def test_take_over_disables_automatic_collection_and_release_restores_it() -> None:
    collector = Collector()
    assert gc.isenabled()
    collector.take_over()
    try:
        assert not gc.isenabled()
    finally:
        collector.release()
    assert gc.isenabled()
    collector.release()  # a second release changes nothing
    assert gc.isenabled()


def test_release_without_take_over_leaves_a_disabled_collector_alone(held: None) -> None:
    Collector().release()
    assert not gc.isenabled()


def test_under_the_threshold_nothing_is_collected(held: None) -> None:
    collector = Collector((10**9, 10, 10))
    watched = cycle()
    assert collector.safe_point() is None
    assert watched() is not None
    assert collector.collections == [0, 0, 0]


def test_over_the_threshold_the_young_generation_is_collected(held: None) -> None:
    collector = Collector((0, 10**9, 10**9))
    watched = cycle()
    assert gc.get_count()[0] > 0
    assert collector.safe_point() == 0
    assert watched() is None
    assert collector.collections == [1, 0, 0]
    assert gc.get_count()[0] == 0


def test_the_oldest_generation_over_its_count_is_the_one_collected(held: None) -> None:
    collector = Collector((0, 2, 10**9))
    for _ in range(3):
        gc.collect(0)  # each young collection counts one toward the middle generation
    cycle()
    assert gc.get_count()[1] == 3
    assert collector.safe_point() == 1
    assert gc.get_count()[1] == 0
    for _ in range(3):
        gc.collect(1)
    cycle()
    assert Collector((0, 10**9, 2)).safe_point() == 2
    assert gc.get_count()[2] == 0


async def test_the_timer_runs_safe_points_until_stopped(held: None) -> None:
    collector = Collector((0, 10**9, 10**9))
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop, interval_s=0.01))
    watched = cycle()
    for _ in range(200):
        await asyncio.sleep(0.01)
        if watched() is None:
            break
    assert watched() is None
    assert collector.collections[0] >= 1
    stop.set()
    await asyncio.wait_for(task, 5)
    assert task.done()


class Clock:
    """A clock that moves by ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _middle_generation_due() -> None:
    for _ in range(3):
        gc.collect(1)  # each middle collection counts one toward the oldest generation


def test_a_full_collection_waits_its_spacing_the_middle_one_runs_meanwhile(held: None) -> None:
    clock = Clock(step=1.0)  # every collection "takes" one second
    collector = Collector((0, 0, 2), full_share=0.1, clock=clock)
    _middle_generation_due()
    assert collector.safe_point() == 2  # 1 s long: the next waits 10 s after it ended
    collector.thresholds = (0, 10**9, 2)
    assert collector.safe_point() == 0  # only the young generation due: only it, as before
    collector.thresholds = (0, 0, 2)
    _middle_generation_due()
    watched = cycle()
    assert collector.safe_point() == 1  # due by the counts, but within the spacing
    assert watched() is None  # the middle collection freed the young cycle all the same
    assert gc.get_count()[2] > 0
    clock.now += 10.0
    assert collector.safe_point() == 2
    assert collector.collections == [1, 1, 2]


def test_the_spacing_is_the_last_full_collection_over_its_share(held: None) -> None:
    readings = iter([0.0, 0.004, 0.011, 0.0115, 0.0145, 0.015])
    collector = Collector((0, 0, 2), full_share=0.4, clock=lambda: next(readings))
    _middle_generation_due()
    assert collector.safe_point() == 2  # 0 -> 0.004: 4 ms long, the next waits 10 ms more
    _middle_generation_due()
    assert collector.safe_point() == 1  # read at 11 ms: 3 ms short of 14 ms
    _middle_generation_due()
    assert collector.safe_point() == 2  # read at 14.5 ms
    assert collector.seconds == pytest.approx([0.0, 0.0005, 0.0045])


def test_what_survives_a_full_collection_is_frozen_out_of_later_ones(held: None) -> None:
    kept = Node()  # alive through the full collection
    frozen_before = gc.get_freeze_count()
    collector = Collector((0, 0, 2), full_share=1.0, clock=Clock(step=0.0))
    try:
        _middle_generation_due()
        assert collector.safe_point() == 2
        assert gc.get_freeze_count() > frozen_before
        assert not any(o is kept for o in gc.get_objects())  # no collection walks it again
        watched = cycle()  # born after: collected as ever
        _middle_generation_due()
        assert collector.safe_point() == 2
        assert watched() is None
    finally:
        assert gc.get_freeze_count() > 0  # (``held`` unfreezes them again)


def test_the_gap_after_a_long_full_collection_has_a_ceiling(held: None) -> None:
    readings = iter([0.0, 10.0, 39.0, 39.5, 40.5, 41.0])
    collector = Collector((0, 0, 2), full_share=0.01, clock=lambda: next(readings),
                          longest_gap_s=30.0)  # fmt: skip
    _middle_generation_due()
    assert collector.safe_point() == 2  # 10 s long: 1,000 s by its share, 30 s by the ceiling
    _middle_generation_due()
    assert collector.safe_point() == 1  # read at 39 s: 1 s short of 40 s
    _middle_generation_due()
    assert collector.safe_point() == 2  # read at 40.5 s
