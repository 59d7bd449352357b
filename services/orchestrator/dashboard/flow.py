"""Stage flow over time (pure): how many subjects sit in each stage at evenly spaced instants.

The funnel counts what happened inside a window; the flow shows how the population moved through
it, which is what a cumulative-flow chart draws. Moves before ``since`` matter (they say where
everyone stood when the window opened), so the caller passes the history up to ``until``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from services.orchestrator.dashboard.svg import FlowSeries
from services.orchestrator.domain.funnel import Move
from services.orchestrator.domain.stages import Stage


def instants(since: datetime, until: datetime, points: int) -> tuple[datetime, ...]:
    """``points`` instants from ``since`` to ``until`` inclusive, evenly spaced."""
    if until <= since or points < 2:
        raise ValueError("need since < until and at least two points")
    step = (until - since) / (points - 1)
    return tuple(since + step * i for i in range(points))


def stage_flow(
    moves: Iterable[Move], since: datetime, until: datetime, points: int = 31
) -> FlowSeries:
    """Per instant, subjects whose latest move at or before it put them in each stage; subjects
    not yet seen at an instant are not counted. Stages in lifecycle order, parked ones last."""
    times = instants(since, until, points)
    stages = tuple(Stage)
    column = {s: j for j, s in enumerate(stages)}
    histories: dict[str, list[Move]] = defaultdict(list)
    for m in moves:
        if m.at <= until:
            histories[m.subject].append(m)
    counts = [[0] * len(stages) for _ in times]
    for history in histories.values():
        history.sort(key=lambda m: (m.at, m.seq))
        k = -1
        for i, t in enumerate(times):
            while k + 1 < len(history) and history[k + 1].at <= t:
                k += 1
            if k >= 0:
                counts[i][column[history[k].to_stage]] += 1
    return FlowSeries(
        stages=tuple(s.value for s in stages),
        times=times,
        counts=tuple(tuple(row) for row in counts),
    )
