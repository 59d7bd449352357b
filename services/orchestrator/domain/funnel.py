"""Funnel metrics over stage history (pure): counts, stage-to-stage conversion, time in stage,
velocity. The window is ``[since, until)``; ``until`` is the "as of" instant (never ``now()``).

Definitions (the same for contacts and accounts):
- ``in_stage``: subjects whose latest move at or before ``until`` put them in the stage.
- ``entered``: moves into the stage inside the window.
- conversion ``A -> B`` (consecutive funnel stages): of the subjects that entered ``A`` inside the
  window, the share that reached ``B`` or any later funnel stage by ``until`` (skipping ``B`` still
  counts: a lead may go from engaged straight to sql).
- median and p90 time in stage: over stays that *ended* inside the window (entered, then left);
  p90 interpolates between the stays (``statistics.quantiles``, inclusive).
- velocity: forward moves per day in the window, and per stage the median days from a subject's
  first known move to its first entry into that stage (entries inside the window).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from services.orchestrator.domain.stages import FUNNEL, Stage

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Move:
    """One stage change of one subject (a row of ``stage_history``)."""

    subject: str
    to_stage: Stage
    at: datetime
    seq: int = 0  # tie-breaker for moves at the same instant (the history row id)


@dataclass(frozen=True, slots=True)
class Conversion:
    from_stage: Stage
    to_stage: Stage
    entered: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.entered if self.entered else None


@dataclass(frozen=True, slots=True)
class FunnelMetrics:
    since: datetime
    until: datetime
    in_stage: dict[Stage, int]
    entered: dict[Stage, int]
    conversions: tuple[Conversion, ...]
    median_days_in_stage: dict[Stage, float | None]
    forward_moves_per_day: float
    median_days_to_reach: dict[Stage, float | None] = field(default_factory=dict)
    p90_days_in_stage: dict[Stage, float | None] = field(default_factory=dict)


def _by_subject(moves: Iterable[Move], until: datetime) -> dict[str, list[Move]]:
    out: dict[str, list[Move]] = defaultdict(list)
    for m in moves:
        if m.at < until:
            out[m.subject].append(m)
    for history in out.values():
        history.sort(key=lambda m: (m.at, m.seq))
    return out


def _median_days(values: Sequence[timedelta]) -> float | None:
    return round(statistics.median(v / DAY for v in values), 6) if values else None


def _p90_days(values: Sequence[timedelta]) -> float | None:
    days = [v / DAY for v in values]
    if len(days) < 2:
        return round(days[0], 6) if days else None
    return round(statistics.quantiles(days, n=10, method="inclusive")[-1], 6)


def funnel_metrics(moves: Iterable[Move], since: datetime, until: datetime) -> FunnelMetrics:
    """All metrics of the window from the full history (moves before ``since`` give context)."""
    if until <= since:
        raise ValueError("until must be after since")
    histories = _by_subject(moves, until)
    in_stage: dict[Stage, int] = {s: 0 for s in Stage}
    entered: dict[Stage, int] = {s: 0 for s in Stage}
    stays: dict[Stage, list[timedelta]] = defaultdict(list)
    to_reach: dict[Stage, list[timedelta]] = defaultdict(list)
    cohort: dict[Stage, set[str]] = defaultdict(set)  # entered the stage inside the window
    best: dict[str, int] = {}  # furthest funnel rank reached by ``until``
    forward = 0
    for subject, history in histories.items():
        in_stage[history[-1].to_stage] += 1
        best[subject] = max((m.to_stage.rank for m in history), default=-1)
        first_at = history[0].at
        reached: set[Stage] = set()
        for i, m in enumerate(history):
            inside = since <= m.at
            if inside:
                entered[m.to_stage] += 1
                cohort[m.to_stage].add(subject)
                prev = history[i - 1].to_stage if i else None
                if prev is not None and m.to_stage.rank > prev.rank >= 0:
                    forward += 1
                if m.to_stage not in reached and not m.to_stage.parked:
                    to_reach[m.to_stage].append(m.at - first_at)
            reached.add(m.to_stage)
            if i + 1 < len(history) and since <= history[i + 1].at:
                stays[m.to_stage].append(history[i + 1].at - m.at)
    conversions = tuple(
        Conversion(a, b, len(cohort[a]), sum(1 for s in cohort[a] if best[s] >= b.rank))
        for a, b in pairwise(FUNNEL)
    )
    return FunnelMetrics(
        since=since,
        until=until,
        in_stage=in_stage,
        entered=entered,
        conversions=conversions,
        median_days_in_stage={s: _median_days(stays[s]) for s in Stage},
        forward_moves_per_day=round(forward / ((until - since) / DAY), 6),
        median_days_to_reach={s: _median_days(to_reach[s]) for s in FUNNEL[1:]},
        p90_days_in_stage={s: _p90_days(stays[s]) for s in Stage},
    )
