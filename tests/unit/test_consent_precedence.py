"""Property: whatever anyone says, in any order, a channel the recipient blocked is unblocked
only by the recipient's own verified act (SMS START, a signed double-opt-in link)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    LedgerItem,
    RefusedGrant,
    Suppression,
    SuppressionKind,
    admit_all,
)

T0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
RECIPIENT_OPT_OUTS = (
    SuppressionKind.UNSUBSCRIBED,
    SuppressionKind.STOP,
    SuppressionKind.COMPLAINT,
    SuppressionKind.HARD_BOUNCE,
)


@dataclass(frozen=True)
class Said:
    """One change: who, what, when (minutes after T0), and when it arrived."""

    item: LedgerItem
    arrival: int


def _entry(channel: Channel, status: ConsentStatus, actor: Actor, minute: int) -> ConsentEntry:
    return ConsentEntry("c1", channel, status, "x", "ev", T0 + timedelta(minutes=minute), actor)


changes = st.lists(
    st.tuples(
        st.sampled_from(["grant", "withdraw", "opt_out"]),
        st.sampled_from([Channel.EMAIL, Channel.SMS]),
        st.sampled_from(list(Actor)),
        st.sampled_from(RECIPIENT_OPT_OUTS),
        st.integers(0, 40),  # when it happened
        st.integers(0, 1000),  # when it arrived (any order)
    ),
    max_size=14,
)


def _said(raw: list[tuple[str, Channel, Actor, SuppressionKind, int, int]]) -> list[Said]:
    out = []
    for what, channel, actor, kind, minute, arrival in raw:
        item: LedgerItem
        if what == "opt_out":
            at = T0 + timedelta(minutes=minute)
            item = Suppression("c1", kind, "outcome", "ev", at, channel)
        elif what == "grant":
            item = _entry(channel, ConsentStatus.GRANTED, actor, minute)
        else:
            item = _entry(channel, ConsentStatus.WITHDRAWN, actor, minute)
        out.append(Said(item, arrival))
    return out


def _ingest_in_arrival_order(said: list[Said]) -> ConsentLedger:
    """As the handlers do: each arrival admitted against what is stored, then stored."""
    ledger = ConsentLedger()
    for s in sorted(said, key=lambda s: s.arrival):
        (admitted,) = admit_all(ledger, [s.item])
        ledger = ledger.with_item(admitted)
    return ledger


@settings(max_examples=400, deadline=None)
@given(changes)
def test_a_recipient_block_is_lifted_only_by_the_recipients_own_act(
    raw: list[tuple[str, Channel, Actor, SuppressionKind, int, int]],
) -> None:
    ledger = _ingest_in_arrival_order(_said(raw))
    for channel in (Channel.EMAIL, Channel.SMS):
        for minute in range(0, 42):
            now = T0 + timedelta(minutes=minute)
            blocked = ledger.suppression(channel, now)
            if blocked is None or ledger.allows(channel, now):
                assert blocked is None
                continue
            # blocked at ``now`` by the recipient: allowed later only after their own act
            for later in range(minute + 1, 42):
                then = T0 + timedelta(minutes=later)
                if ledger.allows(channel, then):
                    acts = [
                        e
                        for e in ledger.entries
                        if e.channel is channel
                        and e.actor is Actor.RECIPIENT
                        and e.status is ConsentStatus.GRANTED
                        and now < e.recorded_at <= then
                    ]
                    assert acts, f"{channel} unblocked at +{later} min by no recipient act"


@settings(max_examples=300, deadline=None)
@given(changes)
def test_every_refused_grant_is_kept_and_none_is_from_the_recipient(
    raw: list[tuple[str, Channel, Actor, SuppressionKind, int, int]],
) -> None:
    said = _said(raw)
    ledger = _ingest_in_arrival_order(said)
    stored = len(ledger.entries) + len(ledger.suppressions) + len(ledger.refused)
    assert stored == len(said)  # nothing said is lost, refused or not
    assert all(isinstance(r, RefusedGrant) for r in ledger.refused)
    assert all(r.entry.actor is not Actor.RECIPIENT for r in ledger.refused)
    assert all(r.entry.status is ConsentStatus.GRANTED for r in ledger.refused)
