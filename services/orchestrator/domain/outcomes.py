"""What delivery outcomes and consent events mean for the consent ledger (pure).

Unsubscribe, SMS STOP, hard bounce and complaint suppress the channel at once; explicit consent
events from producers are ledger entries. Everything else (sent, delivered, failed) is a touch
status, not a consent change.
"""

from __future__ import annotations

from typing import Any

from schemas.commands import Channel as WireChannel
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)

_SUPPRESSES: dict[OutcomeStatus, SuppressionKind] = {
    OutcomeStatus.BOUNCED: SuppressionKind.HARD_BOUNCE,
    OutcomeStatus.COMPLAINED: SuppressionKind.COMPLAINT,
    OutcomeStatus.UNSUBSCRIBED: SuppressionKind.UNSUBSCRIBED,
    OutcomeStatus.STOP: SuppressionKind.STOP,
}

_CONTACT_CHANNEL: dict[WireChannel, Channel] = {
    WireChannel.EMAIL: Channel.EMAIL,
    WireChannel.SMS: Channel.SMS,
    WireChannel.REP_CALL_REMINDER: Channel.CALL,
    WireChannel.REP_EMAIL_REMINDER: Channel.EMAIL,
}


def suppression_for(outcome: TouchOutcome) -> Suppression | None:
    """The suppression an outcome causes; a soft (retryable) bounce causes none."""
    kind = _SUPPRESSES.get(outcome.status)
    if kind is None or (outcome.status is OutcomeStatus.BOUNCED and outcome.retryable):
        return None
    return Suppression(
        contact_id=outcome.contact_id,
        kind=kind,
        source=f"outcome:{outcome.status.value}",
        evidence=outcome.detail or (outcome.provider_id or ""),
        recorded_at=outcome.occurred_at,
        channel=_CONTACT_CHANNEL[outcome.channel],
    )


_RECIPIENT_ACTS = {
    OutcomeStatus.START: "keyword START",
    OutcomeStatus.CONFIRMED: "double-opt-in link confirmed",
}


def consent_for(outcome: TouchOutcome) -> ConsentEntry | None:
    """The recipient's own verified act: an SMS START through the signed provider callback, or
    a signed double-opt-in link clicked. Only these lift the recipient's earlier opt-out (only
    ingest's verified callback routes and the notifier write the outcomes topic)."""
    default = _RECIPIENT_ACTS.get(outcome.status)
    if default is None:
        return None
    return ConsentEntry(
        outcome.contact_id, _CONTACT_CHANNEL[outcome.channel], ConsentStatus.GRANTED,
        f"outcome:{outcome.status.value}", outcome.detail or default, outcome.occurred_at,
        Actor.RECIPIENT,
    )  # fmt: skip


def consent_from_event(
    contact_id: str, event_type: str, properties: dict[str, Any], source: str, occurred_at: Any
) -> ConsentEntry | Suppression | None:
    """``consent_given`` / ``consent_withdrawn`` events (channel in properties; ``all`` on a
    withdrawal means do-not-contact)."""
    if event_type not in ("consent_given", "consent_withdrawn"):
        return None
    raw = str(properties.get("channel", "email")).lower()
    evidence = evidence_of(properties)
    if event_type == "consent_withdrawn" and raw == "all":
        return Suppression(
            contact_id, SuppressionKind.DO_NOT_CONTACT, source, evidence, occurred_at
        )
    try:
        channel = Channel(raw)
    except ValueError:
        return None
    status = ConsentStatus.GRANTED if event_type == "consent_given" else ConsentStatus.WITHDRAWN
    return ConsentEntry(contact_id, channel, status, source, evidence, occurred_at)


_EVIDENCE_FIELDS = ("method", "form", "page", "ip", "proof_id", "reason")


def evidence_of(properties: dict[str, Any]) -> str:
    """The evidence a consent event carries, as stored in the ledger: ``method=form;
    form=newsletter; ip=203.0.113.9`` (the event's time is the row's ``recorded_at``)."""
    return "; ".join(
        f"{name}={properties[name]}" for name in _EVIDENCE_FIELDS if properties.get(name)
    )
