"""The time-to-value watch's state per account (pure): what the product and the customer said
since the deal closed, folded from events so that any arrival order gives the same state.

Every field is a commutative fold (earliest, latest, a count per day, the newest few), so a late
event changes the state exactly as if it had come in time. What the watch *does* with the state
(remind the CSM) is ``domain.churn_risk``; how long customers took to value is
``domain.time_to_value``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

WON, CANCELLED = "deal_closed_won", "subscription_cancelled"
ACTIVATED, MILESTONE = "product_activated", "usage_milestone"
TICKET, NPS, SEATS = "support_ticket_opened", "nps_submitted", "seats_changed"
KEPT_TICKETS = 50
TICKET_MEMORY = timedelta(days=30)
"""Tickets are kept this long (at least) for the evidence: "3 support tickets in 30 days"."""


class ValueWatchRules(BaseModel):
    """``nurture.value_watch``: when a new customer is at risk of early churn, and when a
    customer is at risk of churn, for the customer success manager."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    activation_days: float = Field(default=14, gt=0, le=365)
    """No ``product_activated`` this long after closed-won: one "at risk of early churn"."""
    activation_grace_days: float = Field(default=7, ge=0, le=365)
    """A day-N found more than this late (imported history) reminds no one."""
    usage_events: tuple[str, ...] = ("product_activated", "usage_milestone", "feature_used")
    """The event types that count as product usage (custom types allowed)."""
    usage_window_days: int = Field(default=30, ge=1, le=180)
    usage_drop_share: float = Field(default=0.4, gt=0, le=1)
    """Usage in the last window at or below (1 - share) of the window before: a drop."""
    min_usage: int = Field(default=10, ge=1)
    """The window before needs this many usage events for a fall to count as a drop."""
    ticket_spike: int = Field(default=3, ge=1, le=KEPT_TICKETS)
    """This many support tickets within ``ticket_window_days``: a spike."""
    ticket_window_days: float = Field(default=7, gt=0, le=30)
    detractor_max: int = Field(default=6, ge=0, le=10)
    """An NPS answer at or below this is a detractor's."""
    nps_recent_days: float = Field(default=90, gt=0, le=730)
    """A detractor answer counts this long (an old answer in imported history does not)."""

    @property
    def activation_due(self) -> timedelta:
        return timedelta(days=self.activation_days)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.usage_window_days)

    @property
    def ticket_window(self) -> timedelta:
        return timedelta(days=self.ticket_window_days)

    @property
    def nps_recent(self) -> timedelta:
        return timedelta(days=self.nps_recent_days)

    def watches(self, event_type: str) -> bool:
        return event_type in WATCHED or event_type in self.usage_events


WATCHED = frozenset({WON, CANCELLED, ACTIVATED, MILESTONE, TICKET, NPS, SEATS})


@dataclass(frozen=True, slots=True)
class Answer:
    """The latest NPS answer: when, the score, and who gave it."""

    at: datetime
    event_id: str
    score: int
    contact_id: str


@dataclass(frozen=True, slots=True)
class ValueWatch:
    """One account's watch. ``contact_id``: who its reminders are about (the contact on the
    closed-won deal, else the least id seen). ``early_told_at``: when the at-risk reminder was
    decided (or passed over as too late); ``episode_since``: the open churn-risk episode."""

    account_id: str
    contact_id: str | None = None
    won_at: datetime | None = None
    last_won_at: datetime | None = None
    cancelled_at: datetime | None = None
    activated_at: datetime | None = None
    first_milestone_at: datetime | None = None
    usage: Mapping[date, int] = field(default_factory=dict)
    last_activity: datetime | None = None
    tickets: tuple[tuple[datetime, str], ...] = ()
    nps: Answer | None = None
    seats: tuple[datetime, int] | None = None
    early_told_at: datetime | None = None
    episode_since: datetime | None = None
    episodes: int = 0

    @property
    def customer(self) -> bool:
        """Won and not cancelled since the last win."""
        return self.last_won_at is not None and (
            self.cancelled_at is None or self.cancelled_at < self.last_won_at
        )


def _min(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b < a else a


def _max(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def observe(
    watch: ValueWatch,
    event_type: str,
    properties: Mapping[str, Any],
    at: datetime,
    event_id: str,
    contact_id: str,
    rules: ValueWatchRules,
) -> ValueWatch:
    """The watch after one event (any order gives the same state: every field is a fold)."""
    w = watch
    if event_type == WON:
        first = w.won_at is None or at < w.won_at
        tie = w.won_at == at and w.contact_id is not None and contact_id < w.contact_id
        w = replace(w, won_at=_min(w.won_at, at), last_won_at=_max(w.last_won_at, at))
        if first or tie:
            w = replace(w, contact_id=contact_id)
    elif event_type == CANCELLED:
        w = replace(w, cancelled_at=_max(w.cancelled_at, at))
    elif event_type == TICKET:
        w = replace(w, tickets=kept_tickets({*w.tickets, (at, event_id)}, rules))
    elif event_type == NPS:
        score = properties.get("score")
        if isinstance(score, int) and not isinstance(score, bool):
            answer = Answer(at, event_id, score, contact_id)
            if w.nps is None or (at, event_id) > (w.nps.at, w.nps.event_id):
                w = replace(w, nps=answer)
    elif event_type == SEATS:
        seats = properties.get("seats")
        seen = (at, seats) if isinstance(seats, int) and not isinstance(seats, bool) else None
        if seen is not None and (w.seats is None or seen > w.seats):
            w = replace(w, seats=seen)
    if event_type == ACTIVATED:
        w = replace(w, activated_at=_min(w.activated_at, at))
    if event_type == MILESTONE:
        w = replace(w, first_milestone_at=_min(w.first_milestone_at, at))
    if event_type in rules.usage_events:
        day = at.date()
        w = replace(w, usage=prune({**w.usage, day: w.usage.get(day, 0) + 1}, rules),
                    last_activity=_max(w.last_activity, at))  # fmt: skip
    if w.won_at is None and (w.contact_id is None or contact_id < w.contact_id):
        w = replace(w, contact_id=contact_id)  # any order picks the same one
    return w


def kept_tickets(
    tickets: set[tuple[datetime, str]], rules: ValueWatchRules
) -> tuple[tuple[datetime, str], ...]:
    """The newest tickets within the memory of the newest one, oldest first."""
    kept = sorted(tickets)
    if not kept:
        return ()
    memory = max(TICKET_MEMORY, rules.ticket_window)
    return tuple(t for t in kept if t[0] > kept[-1][0] - memory)[-KEPT_TICKETS:]


def _least(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _contact(s: ValueWatch, x: ValueWatch) -> str | None:
    """The contact the fold of both would keep: the earliest win's (ties: the least id), else
    the least id seen."""
    if s.won_at != x.won_at and (s.won_at is None or x.won_at is None):
        return s.contact_id if x.won_at is None else x.contact_id
    if s.won_at is not None and x.won_at is not None and s.won_at != x.won_at:
        return s.contact_id if s.won_at < x.won_at else x.contact_id
    return min((c for c in (s.contact_id, x.contact_id) if c is not None), default=None)


def merged(survivor: ValueWatch, loser: ValueWatch, rules: ValueWatchRules) -> ValueWatch:
    """Two records of one company (an identity merge): every fold of both, under the
    survivor's id; a reminder either told stays told, and an open episode stays open."""
    s, x = survivor, loser
    usage = dict(s.usage)
    for day, n in x.usage.items():
        usage[day] = usage.get(day, 0) + n
    tickets = kept_tickets({*s.tickets, *x.tickets}, rules)
    answers = [a for a in (s.nps, x.nps) if a is not None]
    seats = [v for v in (s.seats, x.seats) if v is not None]
    won = _least(s.won_at, x.won_at)
    return replace(
        s, contact_id=_contact(s, x), won_at=won, last_won_at=_most(s.last_won_at, x.last_won_at),
        cancelled_at=_most(s.cancelled_at, x.cancelled_at),
        activated_at=_least(s.activated_at, x.activated_at),
        first_milestone_at=_least(s.first_milestone_at, x.first_milestone_at),
        usage=prune(usage, rules), last_activity=_most(s.last_activity, x.last_activity),
        tickets=tickets, nps=max(answers, key=lambda a: (a.at, a.event_id), default=None),
        seats=max(seats, default=None), early_told_at=_least(s.early_told_at, x.early_told_at),
        episode_since=_least(s.episode_since, x.episode_since),
        episodes=max(s.episodes, x.episodes),
    )  # fmt: skip


def prune(
    usage: Mapping[date, int], rules: ValueWatchRules, today: date | None = None
) -> dict[date, int]:
    """The days that can still count: two windows back from ``today`` (else the newest day)."""
    if not usage:
        return {}
    last = today or max(usage)
    first = last - timedelta(days=2 * rules.usage_window_days - 1)
    return {d: n for d, n in sorted(usage.items()) if d >= first}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _at(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def to_dict(w: ValueWatch) -> dict[str, Any]:
    """The stored document (JSON): times as ISO 8601 text."""
    return {
        "contact_id": w.contact_id, "won_at": _iso(w.won_at), "last_won_at": _iso(w.last_won_at),
        "cancelled_at": _iso(w.cancelled_at), "activated_at": _iso(w.activated_at),
        "first_milestone_at": _iso(w.first_milestone_at),
        "usage": {d.isoformat(): n for d, n in sorted(w.usage.items())},
        "last_activity": _iso(w.last_activity),
        "tickets": [[at.isoformat(), eid] for at, eid in w.tickets],
        "nps": None if w.nps is None else
            [w.nps.at.isoformat(), w.nps.event_id, w.nps.score, w.nps.contact_id],
        "seats": None if w.seats is None else [w.seats[0].isoformat(), w.seats[1]],
        "early_told_at": _iso(w.early_told_at), "episode_since": _iso(w.episode_since),
        "episodes": w.episodes,
    }  # fmt: skip


def from_dict(account_id: str, d: Mapping[str, Any]) -> ValueWatch:
    nps, seats = d.get("nps"), d.get("seats")
    return ValueWatch(
        account_id=account_id, contact_id=d.get("contact_id"), won_at=_at(d.get("won_at")),
        last_won_at=_at(d.get("last_won_at")), cancelled_at=_at(d.get("cancelled_at")),
        activated_at=_at(d.get("activated_at")),
        first_milestone_at=_at(d.get("first_milestone_at")),
        usage={date.fromisoformat(k): int(n) for k, n in (d.get("usage") or {}).items()},
        last_activity=_at(d.get("last_activity")),
        tickets=tuple((datetime.fromisoformat(a), e) for a, e in d.get("tickets") or ()),
        nps=None if not nps else Answer(datetime.fromisoformat(nps[0]), nps[1], int(nps[2]),
                                        nps[3]),
        seats=None if not seats else (datetime.fromisoformat(seats[0]), int(seats[1])),
        early_told_at=_at(d.get("early_told_at")), episode_since=_at(d.get("episode_since")),
        episodes=int(d.get("episodes") or 0),
    )  # fmt: skip
