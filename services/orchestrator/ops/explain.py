"""Plain-words answers to "why was (or wasn't) this touch sent?" from a decision-log row (pure).

Every reason is a ``Reason`` with words of its own (``reason_words``); for consent and
suppressions the ledger adds the detail a person asks next ("no consent record" vs "withdrew on
...").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.orchestrator.domain.channels import Channel, TouchChannel
from services.orchestrator.domain.consent import ConsentLedger, SuppressionKind
from services.orchestrator.domain.eligibility import SkipReason
from services.orchestrator.domain.reasons import reason_of
from services.orchestrator.domain.touch_log import TouchDecision
from services.orchestrator.ops.reason_words import Said, words

CHANNEL_WORDS = {
    TouchChannel.EMAIL: "email",
    TouchChannel.SMS: "SMS",
    TouchChannel.REP_CALL_REMINDER: "call reminder to the rep",
    TouchChannel.REP_EMAIL_REMINDER: "email reminder to the rep",
}
SUPPRESSION_WORDS = {
    SuppressionKind.DO_NOT_CONTACT: "is marked do-not-contact",
    SuppressionKind.UNSUBSCRIBED: "unsubscribed from {channel}",
    SuppressionKind.STOP: "replied STOP to SMS",
    SuppressionKind.HARD_BOUNCE: "has an address that hard-bounced",
    SuppressionKind.COMPLAINT: "marked one of our emails as spam",
}
OUTCOMES = ("sent", "delivered", "failed", "bounced", "complained")
FAILED = ("failed", "bounced")


def _when(value: Any) -> str:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (
        at.strftime("%H:%M UTC on %a %d %b %Y") if isinstance(at, datetime) else "an unknown time"
    )


def _day(at: datetime) -> str:
    return at.strftime("%d %b %Y")


def person_name(contact: Mapping[str, Any]) -> str:
    traits = contact.get("traits") or {}
    for key in ("first_name", "firstName", "name"):
        if isinstance(traits.get(key), str) and traits[key].strip():
            return str(traits[key]).strip()
    return str(contact.get("email") or contact["id"])


def consent_view(ledger: ConsentLedger, now: datetime) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for channel in Channel:
        entry, blocked = ledger.latest(channel, now), ledger.suppression(channel, now)
        out[channel.value] = {
            "allowed": ledger.allows(channel, now),
            "status": entry.status.value if entry else None,
            "source": entry.source if entry else None,
            "recorded_at": entry.recorded_at if entry else None,
            "basis": ledger.bases.get(channel, "opt_in"),
            "suppressed_by": blocked.kind.value if blocked else None,
        }
    return out


def _reason(
    code: str, name: str, channel: Channel, contact: Mapping[str, Any],
    touch: Mapping[str, Any] | None, ledger: ConsentLedger, facts: Mapping[str, Any],
    now: datetime,
) -> str:  # fmt: skip
    if code == SkipReason.NO_CONSENT:
        entry = ledger.latest(channel, now)
        if entry is None:
            return f"{name} has not opted in to {channel} (no consent record)"
        return (
            f"{name} withdrew consent for {channel} on {_day(entry.recorded_at)} ({entry.source})"
        )
    if code == SkipReason.SUPPRESSED:
        s = ledger.suppression(channel, now)
        if s is None:
            return f"{name} was suppressed on {channel} at the time (no longer in force)"
        what = SUPPRESSION_WORDS[s.kind].format(channel=channel)
        return f"{name} {what} ({s.source}, {_day(s.recorded_at)})"
    reason = reason_of(code) if code else None
    if reason is None:
        return (
            f"a reason from an earlier version was recorded ({code})"
            if code
            else "no reason was recorded"
        )
    when = _when(facts["retry_at"]) if facts.get("retry_at") else None
    said = Said(name, str(channel), contact.get("stage"), (touch or {}).get("stage"),
                {**facts, "retry_at": when} if when else facts)  # fmt: skip
    return words(reason, said)


def describe(channel: TouchChannel, template: Any) -> str:
    """``SMS "onboarding kickoff"``: the channel, then the template in words (its own channel
    suffix dropped: ``onboarding/kickoff_sms`` is not an "onboarding kickoff sms SMS")."""
    words = str(template or "").replace("/", " ").replace("_", " ").split()
    if words and words[-1].lower() in (channel.value, CHANNEL_WORDS[channel].lower()):
        words = words[:-1]
    named = f' "{" ".join(words)}"' if words else ""
    return f"{CHANNEL_WORDS[channel]}{named}"


def explain(
    contact: Mapping[str, Any],
    account: Mapping[str, Any] | None,
    decision: Mapping[str, Any] | None,
    touch: Mapping[str, Any] | None,
    ledger: ConsentLedger,
    now: datetime,
) -> dict[str, Any]:
    """``{"answer": str, "sent": bool | None, ...facts}``; ``sent`` is None while undecided."""
    name = person_name(contact)
    base: dict[str, Any] = {
        "contact_id": contact["id"], "stage": contact.get("stage"),
        "account_stage": (account or {}).get("stage"), "consent": consent_view(ledger, now),
    }  # fmt: skip
    if decision is None:
        return base | {"sent": None, "touch_id": None, "decision": None, "touch": None,
                       "answer": f"No touch has been planned for {name} yet."}  # fmt: skip
    facts = decision.get("facts") or {}
    raw = (touch or {}).get("channel") or facts.get("channel") or "email"
    tchannel = TouchChannel(raw) if raw in TouchChannel._value2member_map_ else TouchChannel.EMAIL
    what = describe(tchannel, (touch or {}).get("template_id") or facts.get("template"))
    due = _when((touch or {}).get("due_at") or facts.get("due_at"))
    kind, code = decision["kind"], decision["reason"]
    why = _reason(code, name, tchannel.consent_channel, contact, touch, ledger, facts, now)
    sent: bool | None
    if kind == TouchDecision.TOUCH_DISPATCHED:
        status = str((touch or {}).get("status"))
        sent = status not in FAILED
        answer = (
            f"The {what} planned for {due} was sent at {_when(decision['decided_at'])}: it "
            "passed the consent, cap, quiet-hours and stage checks."
        )
        if status in OUTCOMES:
            answer += f" Delivery status: {status}."
    elif kind == TouchDecision.TOUCH_SKIPPED:
        sent, answer = False, f"The {what} planned for {due} was not sent: {why}."
    elif kind == TouchDecision.TOUCH_DEFERRED:
        sent, answer = None, f"The {what} planned for {due} has not been sent yet: {why}."
    elif kind == TouchDecision.TOUCH_NOT_PLANNED:
        sent, answer = False, f"The {what} was not planned for {name}: {why}."
    else:
        sent = None
        answer = (
            f"The {what} is planned for {due} for {name}; it is checked again (consent, caps, "
            "quiet hours, stage) when due."
        )
    return base | {
        "sent": sent, "touch_id": decision["touch_id"], "answer": answer,
        "decision": {"kind": kind, "reason": code, "facts": facts,
                     "decided_at": decision["decided_at"]},
        "touch": touch,
    }  # fmt: skip
