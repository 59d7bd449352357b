"""Proof of lift (pure): per sequence, did the people it treated move on more often than the
people held out of it (``domain.holdout``)?

- exposure: a contact's first entry into a stage that a sequence serves for its role (intent to
  treat: whatever the batching, consent or exits, everyone the sequence was meant for), in the
  held-out arm when the plan's holdout hash says so (``domain.holdout``, the planner's rule);
  the cohort is the exposures inside the window. Measured with the plan as it is now.
- conversion: the contact reached a funnel stage after the sequence's stage (or the goal stage,
  or one after it) within ``window`` of its exposure and before ``until``. Exposures too recent
  for a whole window are in both arms alike: membership is random, so the difference is not
  biased by it, only diluted.
- difference: treated rate - held-out rate, with a 95% confidence interval (two proportions,
  unpooled normal approximation: diff +/- 1.96 x sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)); below
  ``min_sample`` people in either arm there is no figure, only the sample sizes and why.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.orchestrator.domain.funnel import Move
from services.orchestrator.domain.holdout import held_out, holdout_unit
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.stages import FUNNEL, Stage

Z95 = 1.959964
MIN_SAMPLE = 30


@dataclass(frozen=True, slots=True)
class Exposure:
    sequence: str
    stage: Stage
    contact: str
    at: datetime
    held_out: bool


@dataclass(frozen=True, slots=True)
class Member:
    """What membership needs to know of a contact."""

    account: str | None
    role: str | None


def exposures_of(
    moves: Iterable[Move], people: Mapping[str, Member], plan: NurtureConfig
) -> list[Exposure]:
    """Every entry of a known contact into a stage a sequence of ``plan`` serves for its role,
    in the arm the plan's holdout puts it."""
    served: dict[tuple[Stage, str | None], tuple[str, float] | None] = {}  # asked once each
    out = []
    for m in moves:
        who = people.get(m.subject)
        if who is None:
            continue
        key = (m.to_stage, who.role)
        if key not in served:
            sequence = plan.sequence_for(m.to_stage, who.role)
            served[key] = None if sequence is None else (sequence.id, plan.holdout_share(sequence))
        found = served[key]
        if found is None:
            continue
        sequence_id, share = found
        unit = holdout_unit(plan.holdout_by, m.subject, who.account)
        out.append(Exposure(sequence_id, m.to_stage, m.subject, m.at,
                            held_out(share, unit, sequence_id)))  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class Arm:
    people: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.people if self.people else None


@dataclass(frozen=True, slots=True)
class Difference:
    """``value`` and ``low``..``high`` (95%) are None when there is not enough data (``note``)."""

    treated: Arm
    held_out: Arm
    value: float | None
    low: float | None
    high: float | None
    note: str

    @property
    def lifts(self) -> bool:
        return self.low is not None and self.low > 0


@dataclass(frozen=True, slots=True)
class SequenceLift:
    sequence: str
    stage: Stage
    next_stage: Stage | None
    to_next: Difference
    goal: Stage | None
    to_goal: Difference | None


def difference(treated: Arm, held_out: Arm, min_sample: int = MIN_SAMPLE) -> Difference:
    """Treated minus held-out rate with its 95% interval, or the reason there is none."""
    if held_out.people == 0:
        return Difference(treated, held_out, None, None, None, "no held-out contacts")
    if min(treated.people, held_out.people) < min_sample:
        note = f"not enough data: {treated.people} treated, {held_out.people} held out "
        return Difference(treated, held_out, None, None, None, note + f"(needs {min_sample} each)")
    p1, p2 = treated.converted / treated.people, held_out.converted / held_out.people
    se = math.sqrt(p1 * (1 - p1) / treated.people + p2 * (1 - p2) / held_out.people)
    d = p1 - p2
    low, high = round(d - Z95 * se, 4), round(d + Z95 * se, 4)
    return Difference(treated, held_out, round(d, 4), low, high, "")


def _reach(moves: Iterable[Move]) -> dict[str, list[tuple[datetime, int]]]:
    out: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for m in moves:
        out[m.subject].append((m.at, m.to_stage.rank))
    return out


def _arms(
    cohort: Iterable[Exposure],
    reach: dict[str, list[tuple[datetime, int]]],
    rank: int,
    window: timedelta,
    until: datetime,
) -> tuple[Arm, Arm]:
    """(treated, held out): people and how many reached ``rank`` within the window."""
    tally = {True: [0, 0], False: [0, 0]}
    for e in cohort:
        end = min(e.at + window, until)
        hit = any(e.at <= at < end and r >= rank for at, r in reach.get(e.contact, ()))
        tally[e.held_out][0] += 1
        tally[e.held_out][1] += hit
    return Arm(*tally[False]), Arm(*tally[True])


def lift_by_sequence(
    exposures: Iterable[Exposure],
    moves: Iterable[Move],
    since: datetime,
    until: datetime,
    window: timedelta,
    goal: Stage | None = None,
    min_sample: int = MIN_SAMPLE,
) -> list[SequenceLift]:
    """One ``SequenceLift`` per sequence with exposures in ``[since, until)`` (by id)."""
    first: dict[tuple[str, str], Exposure] = {}
    for e in sorted(exposures, key=lambda e: e.at):
        first.setdefault((e.sequence, e.contact), e)
    reach = _reach(moves)
    cohorts: dict[str, list[Exposure]] = defaultdict(list)
    for e in first.values():
        if since <= e.at < until:
            cohorts[e.sequence].append(e)
    out = []
    for sequence, cohort in sorted(cohorts.items()):
        stage = cohort[0].stage
        following = FUNNEL[stage.rank + 1] if 0 <= stage.rank < len(FUNNEL) - 1 else None
        aim = goal if goal is not None and goal.rank > stage.rank else None
        to_next = difference(*_arms(cohort, reach, stage.rank + 1, window, until), min_sample)
        to_goal = None
        if aim is not None:
            to_goal = difference(*_arms(cohort, reach, aim.rank, window, until), min_sample)
        out.append(SequenceLift(sequence, stage, following, to_next, aim, to_goal))
    return out
