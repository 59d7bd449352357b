"""The story a reminder tells its rep (pure): who the person is, what happened and *when*, the
evidence in words with dates, where the account stands and who else there is engaged, what to
say (by reason, stage and role) and the next step with its deadline.

A hand-raise that reached Trellis long after it was made (a backfill, a replay, a late sync) is
told as late — "on 12 Sep, 75 days ago — arrived late" — never announced as fresh. Internal ids
never appear: a person without a name is their email, else "a contact without a name"; an
account without a name is its domain, else "an account without a name".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

STALE_AFTER = timedelta(hours=24)
"""A hand-raise older than this when Trellis learned of it is told as late (nurture plan:
``reminders.stale_after_hours``)."""


@dataclass(frozen=True, slots=True)
class StoryLine:
    """One engagement as the rep reads it: what the person did, and when (None: not known)."""

    said: str
    at: datetime | None = None

    def stored(self) -> dict[str, str]:
        """As the reminder row keeps it (JSON)."""
        return {"said": self.said, "at": self.at.isoformat()} if self.at else {"said": self.said}


def stored_lines(evidence: Any) -> list[StoryLine]:
    """The reminder row's evidence: ``{"said", "at"}`` items (or plain strings, from before)."""
    lines = []
    for item in evidence if isinstance(evidence, list | tuple) else ():
        if isinstance(item, str):
            lines.append(StoryLine(item))
        elif isinstance(item, Mapping) and isinstance(item.get("said"), str):
            at = item.get("at")
            try:
                when = datetime.fromisoformat(at) if isinstance(at, str) else None
            except ValueError:
                when = None
            lines.append(StoryLine(item["said"], when))
    return lines


@dataclass(frozen=True, slots=True)
class Colleague:
    name: str
    role: str | None
    stage: str | None

    def __str__(self) -> str:
        detail = ", ".join(x for x in (self.role, self.stage) if x)
        return f"{self.name} ({detail})" if detail else self.name


@dataclass(frozen=True, slots=True)
class AccountPicture:
    """What the reminder says about the account beyond its row (the adapter reads it)."""

    score: float | None = None
    covered: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    colleagues: tuple[Colleague, ...] = ()
    recent: tuple[StoryLine, ...] = ()  # the person's last engagements, newest first


@dataclass(frozen=True, slots=True)
class StoryPolicy:
    """The nurture plan's say: lateness threshold, talking points per reason, the rep's zone."""

    stale_after: timedelta = STALE_AFTER
    talking_points: Mapping[str, Sequence[str]] = field(default_factory=dict)
    rep_zone: ZoneInfo | None = None


NO_PICTURE = AccountPicture()
DEFAULT_POLICY = StoryPolicy()


def ago(at: datetime, now: datetime) -> str:
    """'just now', '4 minutes ago', '3 hours ago', 'yesterday', '75 days ago'."""
    seconds = max(0, int((now - at).total_seconds()))
    if seconds < 60:
        return "just now"
    for unit, size in (("minute", 60), ("hour", 3600)):
        count = seconds // size
        if count < (60 if unit == "minute" else 24):
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    days = seconds // 86400
    return "yesterday" if days == 1 else f"{days} days ago"


def is_late(at: datetime | None, noticed: datetime | None, stale_after: timedelta) -> bool:
    """Made more than ``stale_after`` before Trellis learned of it."""
    return at is not None and noticed is not None and noticed - at > stale_after


def when_words(at: datetime, now: datetime, late: bool, zone: ZoneInfo | None = None) -> str:
    """'4 minutes ago' while fresh and recent; else the date too, and 'arrived late' when late."""
    local = at.astimezone(zone or UTC)
    if not late and now - at < timedelta(hours=12):
        return ago(at, now)
    day = f"{local:%d %b}" if local.year == now.year else f"{local:%d %b %Y}"
    words = f"on {day}, {ago(at, now)}"
    return words + " — arrived late" if late else words


ROLE_POINTS = {
    "finance": "Bring pricing, ROI and the payment terms they will ask about",
    "technical": "Offer a technical deep-dive: integration, security and data questions",
    "executive": "Lead with business outcomes; keep it short",
    "manager": "Talk team roll-out and time to value",
    "user": "Ask how they would use it day to day",
}
STAGE_POINTS = {
    "engaged": "They are still learning: ask what problem they are trying to solve",
    "mql": "They are reading proof content: offer a customer story like theirs",
    "sql": "Qualify timeline, budget and who else decides",
    "opportunity": "Agree the deal's next milestone and who signs",
    "onboarding": "Check the roll-out is on track before anything else",
    "retained": "Review the outcomes they have had so far",
    "expansion": "Ask about new teams or use cases",
    "advocate": "Thank them; ask (gently) about a reference",
}


EVIDENCE_POINTS = (  # (what an engagement said, the point it suggests)
    ("/pricing", "They looked at pricing: have the numbers for their size ready"),
    ("webinar", "Ask what they took from the webinar"),
    ("NPS survey", "Quote their own words back before anything else"),
)


def talking_points(
    reason: str,
    stage: str | None,
    role: str | None,
    stored: Sequence[str],
    policy: StoryPolicy,
    evidence: Sequence[str] = (),
) -> list[str]:
    """The plan's points for the reason (else those stored with the reminder), then one for
    the person's role, one for the stage, and one per kind of evidence that led here."""
    points = list(policy.talking_points.get(reason) or stored)
    hinted = [point for said, point in EVIDENCE_POINTS if any(said in e for e in evidence)]
    for extra in (ROLE_POINTS.get(role or ""), STAGE_POINTS.get(stage or ""), *hinted):
        if extra and extra not in points:
            points.append(extra)
    return points


NEXT_STEPS: dict[str, tuple[str, timedelta]] = {
    "demo_requested": ("Call {first} to book the demo", timedelta(hours=1)),
    "contact_sales": ("Call {first} back and answer their question", timedelta(hours=1)),
    "became_sql": ("Call {first} to propose a discovery call", timedelta(hours=4)),
    "nps_detractor": ("Call {first} to listen to what went wrong", timedelta(days=1)),
    "pricing_committee": ("Offer {first} a pricing walk-through", timedelta(days=2)),
    "renewal_window": ("Book the renewal conversation with {first}", timedelta(days=7)),
    "committee_gap": ("Ask {first} to bring the missing role into the talks", timedelta(days=3)),
    "early_churn_risk": ("Call {first} to unblock activation", timedelta(days=1)),
    "churn_risk": ("Call {first} to hear what changed", timedelta(days=1)),
}


FOLLOW_UP = ("Follow up with {first}", timedelta(days=1))


def respond_within(reason: str) -> timedelta:
    """How long after it is due a reminder may wait before it is overdue."""
    return NEXT_STEPS.get(reason, FOLLOW_UP)[1]


def next_step(reason: str, first: str, due: datetime, zone: ZoneInfo | None) -> str:
    """What to do and by when (in the rep's zone when known)."""
    action, within = NEXT_STEPS.get(reason, FOLLOW_UP)
    deadline = (due + within).astimezone(zone or UTC)
    where = "your time" if zone else "UTC"
    return f"{action.format(first=first)} by {deadline:%a %d %b, %H:%M} ({where})"


def local_time(zone_name: str | None, now: datetime) -> str:
    """'14:05 their time (Europe/Berlin)': the person's clock when the rep reads this."""
    if not zone_name:
        return ""
    try:
        zone = ZoneInfo(zone_name)
    except (ValueError, OSError, KeyError):
        return ""
    return f"{now.astimezone(zone):%H:%M} their time ({zone_name})"


def story_variables(
    *,
    reason: str,
    who: str,
    first: str,
    stage: str | None,
    role: str | None,
    evidence: Any,
    stored_points: Sequence[str],
    noticed: datetime | None,
    due: datetime,
    now: datetime,
    picture: AccountPicture = NO_PICTURE,
    policy: StoryPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """The template variables of the story: ``happened`` (who did what, when), ``late``,
    ``evidence`` (in words, with dates), ``talking_points``, ``next_step``, ``colleagues``."""
    lines = stored_lines(evidence)
    head = lines[0] if lines else None
    late = is_late(head.at if head else None, noticed, policy.stale_after)
    happened = ""
    if head is not None:
        when = f" {when_words(head.at, now, late, policy.rep_zone)}" if head.at else ""
        happened = f"{who[:1].upper()}{who[1:]} {head.said}{when}."
    told: list[str] = []
    recent = [r for r in picture.recent if r not in lines]  # the same event told once
    for line in [*lines, *recent]:
        late_one = is_late(line.at, noticed, policy.stale_after) if line in lines else False
        when = f" {when_words(line.at, now, late_one, policy.rep_zone)}" if line.at else ""
        words = f"{line.said[:1].upper()}{line.said[1:]}{when}"
        if words not in told:
            told.append(words)
    return {
        "happened": happened,
        "late": late,
        "evidence": told[:6],
        "talking_points": talking_points(reason, stage, role, stored_points, policy, told)
        + (
            [f"Acknowledge the wait: this was {ago(head.at, now)}"]
            if late and head and head.at
            else []
        ),
        "next_step": next_step(reason, first, max(due, now), policy.rep_zone),
        "colleagues": [str(c) for c in picture.colleagues],
    }
