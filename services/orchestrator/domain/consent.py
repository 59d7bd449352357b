"""The consent ledger: append-only entries and suppressions in, the current state out (pure).

Rules: do-not-contact overrides everything; among entries for one channel the latest
``recorded_at`` wins (ties: the later one appended); a channel suppression (unsubscribe, STOP,
hard bounce, complaint: the recipient's own opt-out) blocks the channel until a *later* grant on
it by the recipient's own verified act (SMS START through the signed provider callback, a signed
double-opt-in link clicked). A grant from a producer or an operator never lifts it: ``admit``
turns such a grant into a ``RefusedGrant`` for the ledger, and ``suppression`` ignores any that
got in (e.g. arriving before the opt-out it postdates). Whether a channel needs an opt-in or may
rely on another legal basis (e.g. legitimate interest for B2B email) is per-channel
configuration; an explicit withdrawal always wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.orchestrator.domain.channels import Channel


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class Actor(StrEnum):
    """Who said it. Only the recipient's own verified act lifts the recipient's opt-out."""

    RECIPIENT = "recipient"
    SOURCE = "source"
    OPERATOR = "operator"


class Refusal(StrEnum):
    """Why a grant was recorded but not applied."""

    RECIPIENT_OPTED_OUT = "recipient_opted_out"
    DO_NOT_CONTACT = "do_not_contact"


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
    actor: Actor = Actor.SOURCE

    @property
    def lifts_opt_out(self) -> bool:
        return self.status is ConsentStatus.GRANTED and self.actor is Actor.RECIPIENT


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
class RefusedGrant:
    """A grant kept in the ledger as evidence that it was tried, and why it was not applied."""

    entry: ConsentEntry
    reason: Refusal
    blocked_by: Suppression | None = None  # not kept per row: the ledger holds it anyway

    @property
    def contact_id(self) -> str:
        return self.entry.contact_id


LedgerItem = ConsentEntry | Suppression | RefusedGrant


@dataclass(frozen=True)
class LedgerRow:
    """One change to append to a contact's ledger, with the event or outcome that caused it."""

    item: LedgerItem
    event_id: str | None


@dataclass(frozen=True, slots=True)
class ConsentLedger:
    """The ledger of one contact; only entries recorded at or before ``now`` count."""

    entries: Sequence[ConsentEntry] = ()
    suppressions: Sequence[Suppression] = ()
    bases: Mapping[Channel, LegalBasis] = field(default_factory=lambda: dict(DEFAULT_BASES))
    refused: Sequence[RefusedGrant] = ()

    def latest(self, channel: Channel, now: datetime) -> ConsentEntry | None:
        known = [e for e in self.entries if e.channel is channel and e.recorded_at <= now]
        return max(enumerate(known), key=lambda p: (p[1].recorded_at, p[0]))[1] if known else None

    def suppression(self, channel: Channel, now: datetime) -> Suppression | None:
        """The suppression in force on ``channel`` at ``now``, if any (do-not-contact first)."""
        active = [s for s in self.suppressions if s.recorded_at <= now]
        for s in active:
            if s.kind is SuppressionKind.DO_NOT_CONTACT:
                return s
        lifted_at = [
            e.recorded_at
            for e in self.entries
            if e.channel is channel and e.lifts_opt_out and e.recorded_at <= now
        ]
        for s in active:
            if s.blocks is channel and not any(at > s.recorded_at for at in lifted_at):
                return s
        return None

    def allows(self, channel: Channel, now: datetime) -> bool:
        if self.suppression(channel, now) is not None:
            return False
        entry = self.latest(channel, now)
        if entry is not None:
            return entry.status is ConsentStatus.GRANTED
        return self.bases.get(channel, LegalBasis.OPT_IN) is LegalBasis.LEGITIMATE_INTEREST

    def admit(self, entry: ConsentEntry) -> ConsentEntry | RefusedGrant:
        """``entry`` as it goes into the ledger: a grant by anyone but the recipient, made
        while a suppression is in force on its channel, is refused (and kept as evidence)."""
        if entry.status is not ConsentStatus.GRANTED or entry.actor is Actor.RECIPIENT:
            return entry
        blocked = self.suppression(entry.channel, entry.recorded_at)
        if blocked is None:
            return entry
        reason = (
            Refusal.DO_NOT_CONTACT
            if blocked.kind is SuppressionKind.DO_NOT_CONTACT
            else Refusal.RECIPIENT_OPTED_OUT
        )
        return RefusedGrant(entry, reason, blocked)

    def with_item(self, item: LedgerItem) -> ConsentLedger:
        """This ledger with one more row (for folding several changes in one batch)."""
        if isinstance(item, ConsentEntry):
            return replace(self, entries=(*self.entries, item))
        if isinstance(item, Suppression):
            return replace(self, suppressions=(*self.suppressions, item))
        return replace(self, refused=(*self.refused, item))


def admit_all(ledger: ConsentLedger, items: Sequence[LedgerItem]) -> list[LedgerItem]:
    """Each change admitted against the ledger as it stands with the ones before it (in
    ``recorded_at`` order, as they apply), so a grant after an opt-out in the same batch is
    refused too."""
    out: list[LedgerItem] = []
    for item in sorted(items, key=recorded_at):
        admitted = ledger.admit(item) if isinstance(item, ConsentEntry) else item
        ledger = ledger.with_item(admitted)
        out.append(admitted)
    return out


def admit_rows(ledgers: Mapping[str, ConsentLedger], rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    """What appending ``rows`` writes: each contact's changes in the order they were made,
    admitted against its ledger (``admit_all``), with their events."""
    by_contact: dict[str, list[LedgerRow]] = {}
    for row in rows:
        by_contact.setdefault(row.item.contact_id, []).append(row)
    written: list[LedgerRow] = []
    for contact_id, theirs in by_contact.items():
        ordered = sorted(theirs, key=lambda r: recorded_at(r.item))
        ledger = ledgers.get(contact_id) or ConsentLedger()
        admitted = admit_all(ledger, [r.item for r in ordered])
        written.extend(
            LedgerRow(item, r.event_id) for item, r in zip(admitted, ordered, strict=True)
        )
    return written


def recorded_at(item: LedgerItem) -> datetime:
    """When a ledger item happened (a refused grant: when it was made)."""
    return item.entry.recorded_at if isinstance(item, RefusedGrant) else item.recorded_at


def summary(item: LedgerItem) -> tuple[str, dict[str, str]]:
    """(reason, facts) for the decision log: what changed, on which channel, said by whom."""
    if isinstance(item, RefusedGrant):
        _, facts = summary(item.entry)
        return "refused", {**facts, "refusal": item.reason.value}
    if isinstance(item, ConsentEntry):
        facts = {"channel": item.channel.value, "actor": item.actor.value}
        return item.status.value, {**facts, "source": item.source, "evidence": item.evidence}
    channel = item.blocks.value if item.blocks else "all"
    return item.kind.value, {"channel": channel, "source": item.source, "evidence": item.evidence}
