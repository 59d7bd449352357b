"""``trellis simulate``: the live handlers over historical events, with simulated time.

The orchestrator's own handlers (``application``: engagement batches, due touches, the reminder
clock) run on an in-memory unit of work, in ``occurred_at`` order, batch by batch, with ``now``
set to the batch's last event time. Nothing is read from or written to the database or the
broker, so a marketing-ops change can be tried on a year of history before it ships.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from schemas.events import EngagementEvent
from schemas.outcomes import TouchOutcome
from services.orchestrator.adapters.memory_uow import MemoryUnitOfWork
from services.orchestrator.application.due import handle_due
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.handoff_clock import handle_handoff_clock
from services.orchestrator.application.outcomes import handle_outcomes
from services.orchestrator.application.reminder_clock import handle_reminder_clock
from services.orchestrator.application.unit_of_work import PLANNED, InboxEntry
from services.orchestrator.application.value_watch import handle_value_watch
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.outcomes import inbox_id
from services.orchestrator.people import Nurture
from services.orchestrator.simulate_kpis import Kpis, stage_kpis
from services.orchestrator.simulate_report import TouchTally, tally


class HistoryError(ValueError):
    """The events file has lines that are not valid events; says which."""


@dataclass
class SimulationResult:
    playbook_version: str
    events: int = 0
    contact_stages: Counter[str] = field(default_factory=Counter)
    account_stages: Counter[str] = field(default_factory=Counter)
    transitions: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    touches: TouchTally | None = None
    world: MemoryUnitOfWork | None = field(default=None, repr=False)  # what the handlers left
    kpis: Kpis = field(default_factory=dict)  # stage KPIs as GET /v1/funnel computes them

    def as_dict(self) -> dict[str, object]:
        touches = {"touches": self.touches.as_dict()} if self.touches is not None else {}
        return touches | {
            "playbook_version": self.playbook_version,
            "events": self.events,
            "contact_stages": dict(sorted(self.contact_stages.items())),
            "account_stages": dict(sorted(self.account_stages.items())),
            "transitions": dict(sorted(self.transitions.items())),
            "ignored": dict(sorted(self.ignored.items())),
            "kpis": dict(sorted(self.kpis.items())),
        }


def read_history(path: Path, skip_invalid: bool = False) -> list[EngagementEvent]:
    """Events from a JSON-lines file; invalid lines are an error naming them (or skipped)."""
    events: list[EngagementEvent] = []
    bad: list[str] = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                events.append(EngagementEvent.model_validate(orjson.loads(line)))
            except (orjson.JSONDecodeError, ValidationError) as exc:
                bad.append(f"line {number}: {str(exc).splitlines()[0]}")
    if bad and not skip_invalid:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise HistoryError(f"{len(bad)} invalid line(s) in {path}: " + "; ".join(bad[:5]) + more)
    return events


def simulate(*args: Any, **kwargs: Any) -> SimulationResult:
    """``simulate_async`` from synchronous code (the CLI), with the same arguments."""
    return asyncio.run(simulate_async(*args, **kwargs))


async def simulate_async(
    history: Iterable[EngagementEvent],
    playbook: Playbook,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    nurture: NurtureConfig | None = None,
    horizon: timedelta = timedelta(0),
    max_span: timedelta = timedelta(hours=1),
    reps: tuple[str, ...] = (),
    rep_domains: tuple[str, ...] = (),
    outcomes: Iterable[TouchOutcome] = (),
) -> SimulationResult:
    """Stages by the playbook; with ``nurture``, also the touches and reminders it would make,
    deciding what falls due up to ``horizon`` after the last event. ``reps``: the round-robin
    pool reminders go to when nobody owns the account; ``rep_domains``: addresses that are
    reps (CRM owners); ``outcomes``: delivery outcomes and SMS keywords (a STOP) on the way.
    The live handlers run on an in-memory unit of work: each batch at its last event's time,
    after every touch due before it was decided at its due time (as the live scheduler
    would)."""
    events = sorted(history, key=lambda e: (e.time, e.id))
    uow = MemoryUnitOfWork()
    plan = Nurture(nurture, reps, rep_domains) if nurture is not None else None
    for n, step in enumerate(timeline(events, list(outcomes), batch_size, max_span)):
        if isinstance(step, TouchOutcome):
            now = step.occurred_at
            if plan is not None:
                await run_due_until(uow, plan, now)
                entry = InboxEntry(inbox_id(step), "outcomes", 0, n)
                await handle_outcomes(uow, [(entry, step)], plan.config, playbook.version, now,
                                      plan.config.retry)  # fmt: skip
            continue
        now = step[-1].time
        received = [(InboxEntry(e.id, "history", 0, n), e) for e in step]
        if plan is not None:
            await run_due_until(uow, plan, now)
        await handle_engagement(uow, received, playbook, now, plan)
        if plan is not None:  # speed to lead: what the batch made due now goes out now
            await run_due_round(uow, plan, now)
        if progress is not None:
            progress(len(step))
    result = SimulationResult(playbook.version, events=len(events), world=uow)
    if plan is not None:
        end = events[-1].time if events else datetime.now(UTC)
        await run_due_until(uow, plan, end + horizon)
        result.touches = tally(uow)
    for t, _ in uow.contacts.history:
        result.transitions[f"{t.subject_kind}:{t.to_stage}:{t.reason}"] += 1
    for logged in uow.decisions.entries:
        if logged.kind is DecisionKind.EVENT_IGNORED:
            result.ignored[logged.reason] += 1
    result.kpis = stage_kpis(
        uow, nurture, (events[-1].time if events else datetime.now(UTC)) + horizon
    )
    result.contact_stages.update(str(c.stage) for c in uow.contacts.state_of.values())
    result.account_stages.update(str(a.stage) for a in uow.accounts.state_of.values())
    return result


def timeline(
    events: list[EngagementEvent], outcomes: list[TouchOutcome], size: int, max_span: timedelta
) -> Iterator[list[EngagementEvent] | TouchOutcome]:
    """Batches of events, with each outcome on its own at its time (before events at the same
    time: a STOP applies before what follows it)."""
    pending = sorted(outcomes, key=lambda o: (o.occurred_at, o.id))
    for batch in _batches(events, size, max_span):
        while pending and pending[0].occurred_at <= batch[0].time:
            yield pending.pop(0)
        yield batch
    yield from pending


SIMULATOR = "simulate"
DUE_BATCH = 500


async def run_due_round(uow: MemoryUnitOfWork, plan: Nurture, now: datetime) -> None:
    """What one live scheduler round does at ``now``: the reminder clock, then due touches until
    a round claims fewer than a batch."""
    expiry = timedelta(days=plan.config.reminder_expire_days)
    await handle_reminder_clock(uow, now, expiry, plan.config.version or "")
    await handle_value_watch(uow, plan, now)
    await handle_handoff_clock(uow, plan, now)
    while (await handle_due(uow, plan, SIMULATOR, now, DUE_BATCH))[0] >= DUE_BATCH:
        pass


async def run_due_until(uow: MemoryUnitOfWork, plan: Nurture, until: datetime) -> None:
    """Time passes to ``until``: a round at each due time on the way (a deferred touch comes back
    at its new time)."""
    while (due := next_due(uow)) is not None and due <= until:
        await run_due_round(uow, plan, due)


def next_due(uow: MemoryUnitOfWork) -> datetime | None:
    """The next time something falls due: a planned touch, a handoff's clock step, or a
    time-to-value check (day N without activation comes unasked)."""
    touch = min((r.touch.due_at for r in uow.touches.rows.values() if r.status == PLANNED),
                default=None)  # fmt: skip
    handoff, watch = uow.handoffs.next_step_at(), uow.value_watches.next_check()
    return min((t for t in (touch, handoff, watch) if t is not None), default=None)


def _batches(
    events: list[EngagementEvent], size: int, max_span: timedelta
) -> Iterator[list[EngagementEvent]]:
    """Consecutive events, at most ``size`` per batch and ``max_span`` of simulated time: live,
    events are decided minutes after they happen, and touches are planned from that moment."""
    batch: list[EngagementEvent] = []
    for e in events:
        if batch and (len(batch) >= size or e.time - batch[0].time > max_span):
            yield batch
            batch = []
        batch.append(e)
    if batch:
        yield batch


def compare_table(current: SimulationResult, proposed: SimulationResult) -> list[list[str]]:
    """Rows of (measure, current, proposed, change) for a human-readable comparison."""
    rows: list[list[str]] = [["events", str(current.events), str(proposed.events), ""]]
    for title, a, b in (
        ("contacts in", current.contact_stages, proposed.contact_stages),
        ("accounts in", current.account_stages, proposed.account_stages),
        ("transitions", current.transitions, proposed.transitions),
        ("ignored", current.ignored, proposed.ignored),
        *_touch_rows(current.touches, proposed.touches),
    ):
        for key in sorted(set(a) | set(b)):
            delta = b[key] - a[key]
            rows.append(
                [f"{title} {key}", str(a[key]), str(b[key]), f"{delta:+d}" if delta else ""]
            )
    for key in sorted(set(current.kpis) | set(proposed.kpis)):
        was, now = current.kpis.get(key), proposed.kpis.get(key)
        change = f"{now - was:+.3f}" if was is not None and now is not None and now != was else ""
        rows.append([key, _kpi(was), _kpi(now), change])
    return rows


def _kpi(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _touch_rows(
    current: TouchTally | None, proposed: TouchTally | None
) -> list[tuple[str, Counter[str], Counter[str]]]:
    if current is None or proposed is None:
        return []
    return [
        (f"touches {name}", getattr(current, name), getattr(proposed, name))
        for name in ("planned", "sent", "skipped", "deferred")
    ] + [
        (
            "touches",
            Counter(due_after_horizon=current.pending),
            Counter(due_after_horizon=proposed.pending),
        ),
        ("reminders", current.reminders, proposed.reminders),
        ("handoffs", current.handoffs, proposed.handoffs),
    ]
