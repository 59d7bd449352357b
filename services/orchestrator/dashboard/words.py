"""Timeline entries in plain words (pure): what happened to a contact and why, for a human.

Touch decisions reuse the ops API's ``explain`` so the page and ``GET .../why`` say the same
sentence; every other decision kind is phrased here. An unknown kind still renders (its raw code),
so a new decision kind can never break the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.orchestrator.dashboard.handoff_words import HANDOFF_KINDS, handoff_words
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.reminders import ReminderReason
from services.orchestrator.domain.stages import DecisionKind, IgnoreReason, TransitionReason
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.ops.explain import explain

TRANSITION_WORDS = {
    TransitionReason.FIRST_ENGAGEMENT: "first known engagement",
    TransitionReason.EVIDENCE: "the playbook's entry rule was met",
    TransitionReason.CRM_EVENT: "a CRM event",
    TransitionReason.RECYCLED: "recycled to nurture after the cool-off",
}
REMINDER_WORDS = {
    ReminderReason.DEMO_REQUESTED: "requested a demo",
    ReminderReason.CONTACT_SALES: "asked to talk to sales",
    ReminderReason.BECAME_SQL: "became sales-qualified",
    ReminderReason.NPS_DETRACTOR: "gave a low NPS score",
    ReminderReason.PRICING_COMMITTEE: "several stakeholders viewed pricing",
    ReminderReason.RENEWAL_WINDOW: "renewal coming up",
    ReminderReason.COMMITTEE_GAP: "a buying-committee role is missing",
    ReminderReason.EARLY_CHURN_RISK: "is at a new customer that has not activated (early churn)",
    ReminderReason.CHURN_RISK: "is at a customer at risk of churn",
}
TOUCH_KINDS = frozenset(
    {
        TouchDecision.TOUCH_PLANNED,
        TouchDecision.TOUCH_DISPATCHED,
        TouchDecision.TOUCH_DEFERRED,
        TouchDecision.TOUCH_SKIPPED,
    }
)
TONE = {
    TouchDecision.TOUCH_SKIPPED: "no",
    TouchDecision.TOUCH_DEFERRED: "later",
    TouchDecision.TOUCH_DISPATCHED: "yes",
    DecisionKind.STAGE_CHANGED: "stage",
    DecisionKind.EVENT_IGNORED: "no",
}


def reminder_reason(code: str) -> str:
    known = ReminderReason._value2member_map_.get(code)
    return REMINDER_WORDS[ReminderReason(code)] if known else code.replace("_", " ")


def humanise(value: str) -> str:
    return value.replace("_", " ")


def _stage_change(reason: str, facts: Mapping[str, Any]) -> str:
    why, _, to = reason.partition(":")
    known = TransitionReason._value2member_map_.get(why)
    because = TRANSITION_WORDS[TransitionReason(why)] if known else humanise(why)
    before = facts.get("from")
    text = f"Moved {'from ' + str(before) + ' ' if before else ''}to {to}: {because}"
    details = []
    if isinstance(facts.get("score"), int | float):
        details.append(f"score {facts['score']:g}")
    if facts.get("engagements"):
        count = facts["engagements"]
        details.append(f"{count} engagement{'' if count == 1 else 's'}")
    if facts.get("distinct"):
        details.append("distinct: " + ", ".join(humanise(str(d)) for d in facts["distinct"]))
    if facts.get("coverage"):
        details.append("committee roles engaged: " + ", ".join(map(str, facts["coverage"])))
    return text + (f" ({'; '.join(details)})" if details else "") + "."


def _other(kind: str, reason: str, facts: Mapping[str, Any]) -> str:
    if kind == DecisionKind.EVENT_IGNORED:
        if reason == IgnoreReason.DUPLICATE:
            return "Event ignored: it was a duplicate of one already applied."
        if reason == IgnoreReason.TOO_LATE:
            return "Event ignored: " + (_too_late(facts) if facts else "too late.")
    if kind == DecisionKind.CONSENT_CHANGED:
        source = f" (source: {facts['source']})" if facts.get("source") else ""
        return f"Consent changed: {humanise(reason)}{source}."
    if kind == DecisionKind.TOUCH_OUTCOME:
        detail = f": {facts['detail']}" if facts.get("detail") else ""
        return f"Delivery report for the {humanise(str(facts.get('channel', '')))} touch: " + (
            f"{reason}{detail}."
        )
    if kind == DecisionKind.IDENTITY_MERGED:
        return f"Merged with contact {facts.get('merged')} (matched by {facts.get('via')})."
    if kind == TouchDecision.REMINDER_CREATED and facts.get("reason") == "committee_gap":
        points = "; ".join(map(str, facts.get("talking_points") or ()))
        return f"Rep {facts.get('rep')} was told the buying committee has a gap: {points}."
    if kind == TouchDecision.REMINDER_DEDUPLICATED and reason == "committee_gap":
        return "No new rep reminder: the rep was already told about this gap at this stage."
    if kind == TouchDecision.ACCOUNT_PAUSED:
        return (f"Raised a hand ({humanise(str(facts.get('event_type', '')))}): the account's "
                f"marketing to the others waits until {facts.get('until')}.")  # fmt: skip
    if kind == TouchDecision.ACCOUNT_RESUMED:
        return "The rep acknowledged a reminder: the account's paused marketing resumes."
    if kind == TouchDecision.REMINDER_CREATED:
        return (
            f"Rep {facts.get('rep')} was asked to follow up: the contact "
            f"{reminder_reason(str(facts.get('reason', '')))}."
        )
    if kind == TouchDecision.REMINDER_DEDUPLICATED:
        return "No new rep reminder: the rep was already reminded about this in the last 7 days."
    if kind in HANDOFF_KINDS:
        return handoff_words(kind, reason, facts)
    if kind == TouchDecision.OWNER_CHANGED and facts.get("team"):
        return f"Owner in {facts.get('team')} set to {facts.get('owner')}."
    if kind == TouchDecision.OWNER_CHANGED:
        return f"CRM owner set to {facts.get('owner')}."
    if kind == TouchDecision.PRICING_VIEWED:
        return "Viewed the pricing page."
    if kind == DecisionKind.EVENT_APPLIED:
        return f"Event applied: {humanise(reason)}."
    if reason == Reason.CHURN_RISK_CLEARED:
        since = facts.get("episode_since")
        return f"The account's churn-risk signals cleared (the episode began {since})."
    if reason == Reason.ACTIVATION_CHECK_TOO_LATE:
        return "Day N without activation was found too late (imported history): no reminder."
    if reason == Reason.HISTORICAL:
        span = f"{facts.get('events')} events, {facts.get('first')} to {facts.get('last')}"
        return f"Imported history ({span}) set the stage; nothing is planned for the past."
    return f"{humanise(kind)}: {humanise(reason)}."


def _too_late(late: Mapping[str, Any]) -> str:
    """Why a late event changed no stage: its window and the newest time it was compared with."""
    window, newest = late.get("window_days"), late.get("compared_with")
    days = f"{window:g} days" if isinstance(window, int | float) else "the lateness window"
    since = f" (the newest, {newest})" if newest else ""
    return (
        f"Too late to change the stage: more than {days} older than the contact's newest "
        f"event{since}."
    )


def describe(
    item: Mapping[str, Any],
    contact: Mapping[str, Any],
    touch: Mapping[str, Any] | None,
    ledger: ConsentLedger,
    now: datetime,
) -> str:
    """One timeline entry (``contact_timeline`` item) as a sentence."""
    kind, reason = str(item.get("kind", "")), str(item.get("reason") or "")
    facts: Mapping[str, Any] = item.get("facts") or {}
    if item.get("type") == "event":
        props = item.get("properties") or {}
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(props.items())[:4])
        said = f"Event: {humanise(kind)}" + (f" ({shown})" if shown else "") + "."
        late = item.get("late")
        return said if not late else f"{said} {_too_late(late)}"
    if kind == DecisionKind.STAGE_CHANGED:
        return _stage_change(reason, facts)
    if kind in TOUCH_KINDS:
        decision = {
            "kind": kind, "reason": reason, "touch_id": item.get("touch_id"),
            "decided_at": item.get("at"), "facts": facts,
        }  # fmt: skip
        return str(explain(contact, None, decision, touch, ledger, now)["answer"])
    return _other(kind, reason, facts)


def happened(item: Mapping[str, Any]) -> datetime:
    """When it happened in the world: a stage change at its event's time, not when the
    orchestrator got to it, so a timeline replayed from history reads in order."""
    at = (item.get("facts") or {}).get("occurred_at") if item.get("type") == "decision" else None
    if isinstance(at, str):
        try:
            return datetime.fromisoformat(at)
        except ValueError:
            pass
    found = item.get("at")
    return found if isinstance(found, datetime) else datetime.min.replace(tzinfo=UTC)


def tone(item: Mapping[str, Any]) -> str:
    """A CSS hint: "no" for every skip, so the page shows each "no" at a glance."""
    kind = str(item.get("kind", ""))
    return next((t for k, t in TONE.items() if k.value == kind), "")
