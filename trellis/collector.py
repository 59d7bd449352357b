"""Garbage-collector tuning for our long-running services."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable


def tune_gc() -> None:
    """Fewer, shorter collector pauses. Our services allocate many short-lived objects per
    message (pydantic models, dicts, futures) that hold no reference cycles, so reference
    counting frees them without the collector; the orchestrator's parsed-state caches hold tens
    of thousands of long-lived objects that every full collection walked (pauses up to 184 ms,
    1.7 s per 10 s under bench/speed_to_lead). What start-up allocated is frozen out of
    collection, and young collections run ~70x less often. Measured on ingest's batch endpoint
    (bench/ingest): 99 -> 80 us of server CPU per event."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class Collector:
    """The cyclic collector run at safe points (after a batch, and on a timer between them)
    instead of whenever allocations cross its threshold, which is in the middle of a batch.

    A collection walks every tracked object allocated since the last one that is still alive.
    Mid-batch that is the batch's own working set (records, decoded events, rows, parsed
    states), walked and promoted to an older generation though reference counting frees it
    a moment later; after the batch only what outlives it is left (the states it cached). At
    1M known contacts, where most states are parsed anew, the collector cost the orchestrator
    24 us of CPU per event collecting inside batches, 9 us at safe points (a probe of 20k events
    on the 1M database ``bench orchestrator --scale`` seeds). Collections follow CPython's own
    counts and thresholds (``gc.get_threshold``), checked at each safe point, so garbage is
    bounded by one batch or one timer interval.

    A full collection walks everything alive, the state caches included: with a million
    contacts' states cached (20M objects) one took 12-13 s here, a stall of the event loop. So
    what survives a full collection is frozen out of later ones (``gc.freeze``), as ``tune_gc``
    freezes what start-up allocated: the next full collection walks only what is newer (the
    states replaced since), and a frozen state is still freed by reference counting when the
    cache evicts or replaces it (states hold no cycles). The price: a reference cycle that was
    alive at a full collection and dies later is not collected (the service's long-lived
    objects: pools, consumers, tasks between batches). Full collections are also spaced by time:
    after one that took ``d`` seconds the next waits ``d / full_share`` (the young and middle
    generations are still collected meanwhile), so they cost at most ``full_share`` of it, but
    never more than ``longest_gap_s``: a longer gap lets more survivors pile up for the next one
    to walk (a full collection after 100k of a million cached states were replaced: 1.4 s here,
    against 12-13 s without the freeze)."""

    def __init__(
        self,
        thresholds: tuple[int, int, int] | None = None,
        full_share: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        longest_gap_s: float = 30.0,
    ) -> None:
        self.thresholds = thresholds or gc.get_threshold()
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]  # spent collecting, by generation (benches report it)
        self.full_share = full_share
        self.longest_gap_s = longest_gap_s
        self._clock = clock
        self._full_after = 0.0  # the clock before which a full collection waits
        self._held = False

    def take_over(self) -> None:
        """From now on collections happen at ``safe_point`` only."""
        gc.disable()
        self._held = True

    def release(self) -> None:
        """Back to automatic collection (at shutdown)."""
        if self._held:
            gc.enable()
            self._held = False

    def safe_point(self) -> int | None:
        """Collect the generation CPython's rule names once the youngest is over its threshold:
        the oldest whose count is over its own. Returns it, or None when nothing was due."""
        count = gc.get_count()
        if count[0] <= self.thresholds[0]:
            return None
        over = [g for g in (2, 1) if count[g] > self.thresholds[g]]
        generation = over[0] if over else 0
        started = self._clock()
        if generation == 2 and started < self._full_after:
            generation = 1  # the last full collection's spacing has not passed yet
        gc.collect(generation)
        if generation == 2:
            gc.freeze()  # the survivors are long-lived: later full collections skip them
        ended = self._clock()
        if generation == 2:
            gap = min((ended - started) / self.full_share, self.longest_gap_s)
            self._full_after = ended + gap
        self.collections[generation] += 1
        self.seconds[generation] += ended - started
        return generation

    async def run(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        """Safe points on a timer, for what is allocated between batches (ops API, scheduler)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            self.safe_point()
