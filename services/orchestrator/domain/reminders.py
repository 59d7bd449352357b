"""Rep reminders (pure): which engagements call for a human, and a reminder's life cycle.

Rules: a demo or contact-sales request, a contact entering SQL, an NPS detractor (score <= 6),
pricing-page views by two or more stakeholders of an MQL account. A reminder is deduplicated per
contact and reason inside ``DEDUP_WINDOW``. States: open -> acknowledged | snoozed(until) | done |
expired; snoozed -> open when the snooze ends; done and expired are final.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

DEDUP_WINDOW = timedelta(days=7)
DETRACTOR_MAX = 6


class ReminderReason(StrEnum):
    DEMO_REQUESTED = "demo_requested"
    CONTACT_SALES = "contact_sales"
    BECAME_SQL = "became_sql"
    NPS_DETRACTOR = "nps_detractor"
    PRICING_COMMITTEE = "pricing_committee"
    RENEWAL_WINDOW = "renewal_window"
    COMMITTEE_GAP = "committee_gap"
    EARLY_CHURN_RISK = "early_churn_risk"  # no activation by day N (domain.churn_risk)
    CHURN_RISK = "churn_risk"  # usage drop, detractor NPS, ticket spike (domain.churn_risk)


TALKING_POINTS: dict[ReminderReason, tuple[str, ...]] = {
    ReminderReason.DEMO_REQUESTED: ("Confirm the use case behind the demo request", "Book a slot"),
    ReminderReason.CONTACT_SALES: ("Answer their question first", "Qualify timeline and budget"),
    ReminderReason.BECAME_SQL: ("Review recent engagement", "Propose a discovery call"),
    ReminderReason.NPS_DETRACTOR: ("Listen: ask what went wrong", "Offer a fix, no upsell"),
    ReminderReason.PRICING_COMMITTEE: (
        "Several stakeholders viewed pricing",
        "Offer a pricing walk-through",
    ),
    ReminderReason.RENEWAL_WINDOW: (
        "Review usage and outcomes since the last renewal",
        "Ask about new teams or use cases before the renewal date",
    ),
    ReminderReason.COMMITTEE_GAP: (
        "The buying committee lacks a role this stage needs",
        "Ask your contact to introduce the missing role",
    ),
    ReminderReason.EARLY_CHURN_RISK: (
        "Ask what blocks activation: access, setup, data, or who owns the rollout",
        "Offer a working session to get to first value this week",
    ),
    ReminderReason.CHURN_RISK: (
        "Listen first: ask what changed for them",
        "Agree one fix and a date to check on it; no upsell",
    ),
}


@dataclass(frozen=True, slots=True)
class Signal:
    """One engagement, as the reminder rules see it."""

    event_id: str
    contact_id: str
    account_id: str | None
    type: str
    properties: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ReminderNeed:
    contact_id: str
    account_id: str | None
    reason: ReminderReason
    evidence: tuple[str, ...]
    due_from: datetime | None = None  # not before (a renewal's window opens ahead of its date)
    dedup_key: str | None = None  # one reminder per key for ever (a renewal: account + date)
    rep: str | None = None
    """Who to remind when it is not the contact's owner rep (the account's CSM)."""
    story: tuple[dict[str, str], ...] = ()
    """The evidence for the rep, ``{"said", "at"}`` each (the ids are for dedup); the reminder
    tells it relative to when it is read (``reminder_story``)."""
    points: tuple[str, ...] = ()
    """Talking points of this very case (a committee gap's roles and people), else the rule's."""

    @property
    def talking_points(self) -> tuple[str, ...]:
        return self.points or TALKING_POINTS[self.reason]


def reminders_needed(
    signals: list[Signal],
    became_sql: set[str],
    mql_accounts: set[str],
    pricing_viewers: dict[str, dict[str, str]],
    renewal_lead: timedelta = timedelta(days=60),
) -> list[ReminderNeed]:
    """What the batch calls for. ``pricing_viewers``: account -> {contact: event id} (recent).
    A ``renewal_date`` (ISO date in an event's properties) asks for one reminder per account
    and date, due ``renewal_lead`` before it."""
    needs: dict[tuple[str, ReminderReason], ReminderNeed] = {}

    def add(s: Signal, reason: ReminderReason) -> None:
        needs.setdefault(
            (s.contact_id, reason),
            ReminderNeed(s.contact_id, s.account_id, reason, (s.event_id,), story=(told(s),)),
        )

    for s in signals:
        if s.type == "demo_requested":
            add(s, ReminderReason.DEMO_REQUESTED)
        elif s.type == "contact_sales_requested":
            add(s, ReminderReason.CONTACT_SALES)
        elif s.type == "nps_submitted" and _detractor(s.properties):
            add(s, ReminderReason.NPS_DETRACTOR)
    requested = {
        c for c, r in needs if r in (ReminderReason.DEMO_REQUESTED, ReminderReason.CONTACT_SALES)
    }
    for s in signals:
        if s.contact_id in became_sql and s.contact_id not in requested:
            add(s, ReminderReason.BECAME_SQL)
    for s in signals:
        renewal = renewal_date(s.properties)
        if renewal is not None and s.account_id is not None:
            key = f"{s.account_id}/renewal/{renewal.isoformat()}"
            due = datetime.combine(renewal, time(), tzinfo=UTC) - renewal_lead
            needs.setdefault(
                (s.account_id, ReminderReason.RENEWAL_WINDOW),
                ReminderNeed(
                    s.contact_id, s.account_id, ReminderReason.RENEWAL_WINDOW, (s.event_id,),
                    due_from=due, dedup_key=key,
                    story=(told(s, f"has a renewal on {renewal:%d %b %Y} (seen when they "
                                   f"{said(s)})"),),
                ),
            )  # fmt: skip
    for account, viewers in sorted(pricing_viewers.items()):
        if account in mql_accounts and len(viewers) >= 2:
            first = min(viewers)
            seen = [s for s in signals if s.account_id == account and s.contact_id == first]
            what = f"was one of {len(viewers)} people at the account to view pricing lately"
            story = (told(seen[-1], what) if seen else {"said": what},)
            needs.setdefault(
                (first, ReminderReason.PRICING_COMMITTEE),
                ReminderNeed(first, account, ReminderReason.PRICING_COMMITTEE,
                             tuple(sorted(viewers.values())), story=story),
            )  # fmt: skip
    return list(needs.values())


_SAID = {
    "demo_requested": "requested a demo",
    "contact_sales_requested": "asked to talk to sales",
    "meeting_booked": "booked a meeting",
    "webinar_attended": "attended a webinar",
    "webinar_registered": "registered for a webinar",
    "form_submitted": "submitted a form",
    "usage_milestone": "reached a usage milestone",
    "seats_changed": "changed the number of seats",
}


def in_words(s: Signal) -> str:
    """One engagement as a rep reads it: what, with its detail, and when (UTC)."""
    return f"{said(s)} on {s.occurred_at:%d %b %Y at %H:%M} UTC"


def told(s: Signal, what: str | None = None) -> dict[str, str]:
    """A story item as the reminder row keeps it: what was done (``said``) and when (``at``)."""
    return {"said": what or said(s), "at": s.occurred_at.isoformat()}


def said(s: Signal) -> str:
    """What the person did, with its detail, without the time ("requested a demo")."""
    p = s.properties
    if s.type == "nps_submitted":
        what = f"answered the NPS survey with {p.get('score')}"
        if isinstance(p.get("comment"), str) and p["comment"].strip():
            what += f': "{p["comment"].strip()[:140]}"'
    elif s.type == "page_viewed":
        what = f"viewed {p.get('path') or p.get('url') or 'a page'}"
    elif s.type == "content_downloaded":
        what = f"downloaded {p.get('title') or p.get('content_type') or 'content'}"
    else:
        what = _SAID.get(s.type, s.type.replace("_", " "))
        detail = p.get("topic") or p.get("notes") or p.get("milestone")
        if isinstance(detail, str) and detail.strip():
            what += f" ({detail.strip()[:140]})"
    return what


def renewal_date(properties: dict[str, Any]) -> date | None:
    raw = properties.get("renewal_date")
    if not isinstance(raw, str):
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def _detractor(props: dict[str, Any]) -> bool:
    value = props.get("score")
    return isinstance(value, int) and not isinstance(value, bool) and value <= DETRACTOR_MAX


class ReminderStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    DONE = "done"
    EXPIRED = "expired"


class ReminderAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"
    COMPLETE = "complete"
    EXPIRE = "expire"
    WAKE = "wake"


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Reminder:
    status: ReminderStatus = ReminderStatus.OPEN
    snoozed_until: datetime | None = None


FINAL = frozenset({ReminderStatus.DONE, ReminderStatus.EXPIRED})
_ALLOWED: dict[ReminderAction, frozenset[ReminderStatus]] = {
    ReminderAction.ACKNOWLEDGE: frozenset({ReminderStatus.OPEN, ReminderStatus.SNOOZED}),
    ReminderAction.SNOOZE: frozenset({ReminderStatus.OPEN, ReminderStatus.ACKNOWLEDGED}),
    ReminderAction.COMPLETE: frozenset(
        {ReminderStatus.OPEN, ReminderStatus.ACKNOWLEDGED, ReminderStatus.SNOOZED}
    ),
    ReminderAction.EXPIRE: frozenset({ReminderStatus.OPEN, ReminderStatus.SNOOZED}),
    ReminderAction.WAKE: frozenset({ReminderStatus.SNOOZED}),
}


def transition(
    reminder: Reminder, action: ReminderAction, now: datetime, until: datetime | None = None
) -> Reminder:
    """The reminder after ``action`` at ``now``; an action its state does not allow raises."""
    if reminder.status not in _ALLOWED[action]:
        raise InvalidTransition(f"cannot {action} a {reminder.status} reminder")
    if action is ReminderAction.SNOOZE:
        if until is None or until <= now:
            raise InvalidTransition("snooze needs a time in the future")
        return Reminder(ReminderStatus.SNOOZED, until)
    if action is ReminderAction.WAKE:
        if reminder.snoozed_until is not None and reminder.snoozed_until > now:
            raise InvalidTransition("still snoozed")
        return Reminder(ReminderStatus.OPEN)
    target = {
        ReminderAction.ACKNOWLEDGE: ReminderStatus.ACKNOWLEDGED,
        ReminderAction.COMPLETE: ReminderStatus.DONE,
        ReminderAction.EXPIRE: ReminderStatus.EXPIRED,
    }[action]
    return replace(reminder, status=target, snoozed_until=None)


def made_at(need: ReminderNeed) -> datetime | None:
    """When the engagement behind the need happened (its first story item's time)."""
    at = need.story[0].get("at") if need.story else None
    return datetime.fromisoformat(at) if at else None


def remindable(
    needs: list[ReminderNeed], now: datetime, stale_after: timedelta, remind_late: bool
) -> list[ReminderNeed]:
    """The needs that remind a rep: all of them, or (``remind_late`` off in the nurture plan)
    those whose hand-raise reached Trellis within ``stale_after`` of being made."""
    if remind_late:
        return needs
    return [n for n in needs if (at := made_at(n)) is None or now - at <= stale_after]
