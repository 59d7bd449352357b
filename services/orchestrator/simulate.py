"""``trellis simulate``: the live decision code over historical events, with simulated time.

The same pure functions the orchestrator runs — identity resolution and ``decide`` — applied in
``occurred_at`` order, batch by batch, with ``now`` set to the batch's last event time. Nothing is
read from or written to the database or the broker, so a marketing-ops change can be tried on a
year of history before it ships.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from pydantic import ValidationError

from schemas.events import EngagementEvent
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import to_engagement
from services.orchestrator.domain.identity import resolve_accounts, resolve_contacts
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.stages import DecisionKind
from services.orchestrator.domain.state import AccountState, ContactState


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

    def as_dict(self) -> dict[str, object]:
        return {
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
) -> SimulationResult:
    events = sorted(history, key=lambda e: (e.time, e.id))
    aliases: dict[str, str] = {}
    known_accounts: dict[str, tuple[str, str | None, str | None]] = {}
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    result = SimulationResult(playbook.version, events=len(events))
    for lo in range(0, len(events), batch_size):
        batch = events[lo : lo + batch_size]
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
        decision = decide(contacts, accounts, engagements, playbook, batch[-1].time)
        contacts.update(decision.contacts)
        accounts.update(decision.accounts)
        for t in decision.transitions:
            result.transitions[f"{t.subject_kind}:{t.to_stage}:{t.reason}"] += 1
        for entry in decision.log:
            if entry.kind is DecisionKind.EVENT_IGNORED:
                result.ignored[entry.reason] += 1
        if progress is not None:
            progress(len(batch))
    result.contact_stages.update(str(c.stage) for c in contacts.values())
    result.account_stages.update(str(a.stage) for a in accounts.values())
    return result


def compare_table(current: SimulationResult, proposed: SimulationResult) -> list[list[str]]:
    """Rows of (measure, current, proposed, change) for a human-readable comparison."""
    rows: list[list[str]] = [["events", str(current.events), str(proposed.events), ""]]
    for title, a, b in (
        ("contacts in", current.contact_stages, proposed.contact_stages),
        ("accounts in", current.account_stages, proposed.account_stages),
        ("transitions", current.transitions, proposed.transitions),
        ("ignored", current.ignored, proposed.ignored),
    ):
        for key in sorted(set(a) | set(b)):
            delta = b[key] - a[key]
            rows.append(
                [f"{title} {key}", str(a[key]), str(b[key]), f"{delta:+d}" if delta else ""]
            )
    return rows
