"""``trellis simulate``: the live decision code over historical events, with simulated time.

The same pure functions the orchestrator runs — identity resolution and ``decide`` — applied in
``occurred_at`` order, batch by batch, with ``now`` set to the batch's last event time. Nothing is
read from or written to the database or the broker, so a marketing-ops change can be tried on a
year of history before it ships.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from pydantic import ValidationError

from schemas.events import EngagementEvent
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import to_engagement
from services.orchestrator.domain.identity import resolve_accounts, resolve_contacts
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.domain.state import AccountState, ContactState
from services.orchestrator.simulate_touches import TouchSimulator, TouchTally


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

    def as_dict(self) -> dict[str, object]:
        touches = {"touches": self.touches.as_dict()} if self.touches is not None else {}
        return touches | {
            "playbook_version": self.playbook_version,
            "events": self.events,
            "contact_stages": dict(sorted(self.contact_stages.items())),
            "account_stages": dict(sorted(self.account_stages.items())),
            "transitions": dict(sorted(self.transitions.items())),
            "ignored": dict(sorted(self.ignored.items())),
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


def simulate(
    history: Iterable[EngagementEvent],
    playbook: Playbook,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    nurture: NurtureConfig | None = None,
    horizon: timedelta = timedelta(0),
    max_span: timedelta = timedelta(hours=1),
) -> SimulationResult:
    """Stages by the playbook; with ``nurture``, also the touches and reminders it would make,
    deciding what falls due up to ``horizon`` after the last event."""
    events = sorted(history, key=lambda e: (e.time, e.id))
    aliases: dict[str, str] = {}
    known_accounts: dict[str, tuple[str, str | None, str | None]] = {}
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    result = SimulationResult(playbook.version, events=len(events))
    touches = TouchSimulator(nurture) if nurture is not None else None
    for batch in _batches(events, batch_size, max_span):
        people = resolve_contacts(batch, aliases)
        orgs = resolve_accounts(batch, list(known_accounts.values()))
        aliases.update(people.new_aliases)
        aliases.update(people.moved_aliases)
        for aid, claims in orgs.claims.items():
            _, ext, dom = known_accounts.get(aid, (aid, None, None))
            known_accounts[aid] = (
                aid,
                ext or claims.get("external_id"),
                dom or claims.get("domain"),
            )
        engagements = [
            to_engagement(e, people.contact_of[e.id], orgs.account_of[e.id]) for e in batch
        ]
        if touches is not None:
            touches.before_batch(batch, people.contact_of)
        decision = decide(contacts, accounts, engagements, playbook, batch[-1].time)
        contacts.update(decision.contacts)
        accounts.update(decision.accounts)
        if touches is not None:
            touches.after_batch(
                batch, decision, people.contact_of, orgs.account_of, contacts, accounts,
                batch[-1].time,
            )  # fmt: skip
        for t in decision.transitions:
            result.transitions[f"{t.subject_kind}:{t.to_stage}:{t.reason}"] += 1
        for entry in decision.log:
            if entry.kind is DecisionKind.EVENT_IGNORED:
                result.ignored[entry.reason] += 1
        if progress is not None:
            progress(len(batch))
    if touches is not None:
        result.touches = touches.finish(
            (events[-1].time if events else datetime.now(UTC)) + horizon
        )
    result.contact_stages.update(str(c.stage) for c in contacts.values())
    result.account_stages.update(str(a.stage) for a in accounts.values())
    return result


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
    return rows


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
    ]
