"""Shared bits for benchmarks: an embedded broker, repeated runs, medians and ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    """A consumed record as the orchestrator's handlers read it, for benches that call them
    without a broker."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()
    timestamp: int = 0


@dataclass
class Figure:
    name: str
    unit: str
    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def line(self, baseline: Figure | None = None) -> str:
        spread = f"min {min(self.runs):,.0f} max {max(self.runs):,.0f}"
        ratio = (
            f"  ratio {self.median / baseline.median:5.1%} of {baseline.name}" if baseline else ""
        )
        return f"{self.name:<44} {self.median:>12,.0f} {self.unit}  ({spread}){ratio}"


async def rate(
    work: Callable[[], Awaitable[tuple[int, float | None]]], repeats: int, name: str
) -> Figure:
    """Run ``work`` ``repeats`` times; items per second per run.

    ``work`` returns (items, seconds) or (items, None) to be timed from the outside; consumers
    time themselves from their first record so the group join (seconds on Tansu) is excluded.
    """
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        items, seconds = await work()
        runs.append(items / (seconds if seconds is not None else time.perf_counter() - start))
    return Figure(name, "msg/s", runs)
