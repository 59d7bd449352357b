"""The consent ledger: append-only entries and suppressions in, the current state out (pure).

Rules: do-not-contact overrides everything; among entries for one channel the latest
``recorded_at`` wins (ties: the later one appended); a channel suppression (unsubscribe, STOP,
hard bounce, complaint) blocks the channel until a *later* explicit grant on it (re-subscribe,
SMS START). Whether a channel needs an opt-in or may rely on another legal basis (e.g.
legitimate interest for B2B email) is per-channel configuration; an explicit withdrawal always wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.orchestrator.domain.channels import Channel


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class LegalBasis(StrEnum):
    OPT_IN = "opt_in"
    LEGITIMATE_INTEREST = "legitimate_interest"


class SuppressionKind(StrEnum):
    DO_NOT_CONTACT = "do_not_contact"
    UNSUBSCRIBED = "unsubscribed"
    STOP = "stop"
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"

    @property
    def default_channel(self) -> Channel | None:
        """The channel a suppression of this kind blocks when none is given (None: all)."""
        return _DEFAULT_CHANNEL[self]


_DEFAULT_CHANNEL: dict[SuppressionKind, Channel | None] = {
    SuppressionKind.DO_NOT_CONTACT: None,
    SuppressionKind.UNSUBSCRIBED: Channel.EMAIL,
    SuppressionKind.STOP: Channel.SMS,
    SuppressionKind.HARD_BOUNCE: Channel.EMAIL,
    SuppressionKind.COMPLAINT: Channel.EMAIL,
}

DEFAULT_BASES: Mapping[Channel, LegalBasis] = {
    Channel.EMAIL: LegalBasis.OPT_IN,
    Channel.SMS: LegalBasis.OPT_IN,
    Channel.CALL: LegalBasis.LEGITIMATE_INTEREST,
}


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    contact_id: str
    channel: Channel
    status: ConsentStatus
    source: str
    evidence: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Suppression:
    contact_id: str
    kind: SuppressionKind
    source: str
    evidence: str
    recorded_at: datetime
    channel: Channel | None = None  # None: the kind's default channel

    @property
    def blocks(self) -> Channel | None:
        if self.kind is SuppressionKind.DO_NOT_CONTACT:
            return None
        return self.channel or self.kind.default_channel


@dataclass(frozen=True, slots=True)
class ConsentLedger:
    """The ledger of one contact; only entries recorded at or before ``now`` count."""

    entries: Sequence[ConsentEntry] = ()
    suppressions: Sequence[Suppression] = ()
    bases: Mapping[Channel, LegalBasis] = field(default_factory=lambda: dict(DEFAULT_BASES))

    def latest(self, channel: Channel, now: datetime) -> ConsentEntry | None:
        known = [e for e in self.entries if e.channel is channel and e.recorded_at <= now]
        return max(enumerate(known), key=lambda p: (p[1].recorded_at, p[0]))[1] if known else None

    def suppression(self, channel: Channel, now: datetime) -> Suppression | None:
        """The suppression in force on ``channel`` at ``now``, if any (do-not-contact first)."""
        active = [s for s in self.suppressions if s.recorded_at <= now]
        for s in active:
            if s.kind is SuppressionKind.DO_NOT_CONTACT:
                return s
        grant = self.latest(channel, now)
        for s in active:
            if s.blocks is channel and not (
                grant is not None
                and grant.status is ConsentStatus.GRANTED
                and grant.recorded_at > s.recorded_at
            ):
                return s
        return None

    def allows(self, channel: Channel, now: datetime) -> bool:
        if self.suppression(channel, now) is not None:
            return False
        entry = self.latest(channel, now)
        if entry is not None:
            return entry.status is ConsentStatus.GRANTED
        return self.bases.get(channel, LegalBasis.OPT_IN) is LegalBasis.LEGITIMATE_INTEREST
