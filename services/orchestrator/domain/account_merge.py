"""Account merges, decided purely: a merged-away account's stakeholders move to the survivor.

``identity.resolve_accounts`` says which accounts are one company; this moves what hangs off the
loser before the batch is decided: each of its (live) contacts is re-keyed to the survivor, its
pending events too (so a later event naming no account cannot take the contact back), and the
survivor's members gain the loser's, so the roll-up in ``decide`` gives the survivor the whole
committee's score, coverage and stage. The loser's state is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from services.orchestrator.domain.identity import AccountMerge
from services.orchestrator.domain.state import AccountState, ContactState


@dataclass(frozen=True)
class AccountsMerged:
    """``contacts``: the batch's states with their accounts re-keyed; ``carried``: the losers'
    other contacts, re-keyed, to save as they are; ``accounts``: the survivors with the losers'
    members, the losers gone."""

    contacts: dict[str, ContactState]
    carried: dict[str, ContactState]
    accounts: dict[str, AccountState]


def rekey_account(state: ContactState, winner_of: Mapping[str, str]) -> ContactState:
    """``state`` with every account it names that was merged away replaced by its survivor.
    With no merge nothing is read: a stored window is decoded lazily, item by item, and
    walking it for nothing cost more than the rest of a batch whose states missed the cache."""
    if not winner_of:
        return state
    if state.account_key not in winner_of and not any(
        e.account_key in winner_of for e in state.pending
    ):
        return state
    pending = tuple(
        replace(e, account_key=winner_of[e.account_key])
        if e.account_key is not None and e.account_key in winner_of
        else e
        for e in state.pending
    )
    key = state.account_key
    return replace(state, account_key=winner_of.get(key, key) if key else None, pending=pending)


def absorb_account_merges(
    contacts: Mapping[str, ContactState],
    members: Mapping[str, ContactState],
    accounts: Mapping[str, AccountState],
    merges: Sequence[AccountMerge],
) -> AccountsMerged:
    """``contacts``: the batch's loaded states; ``members``: the losers' live contacts;
    ``accounts``: the loaded account states (losers' included)."""
    winner_of = {m.loser: m.winner for m in merges}
    batch = {k: rekey_account(s, winner_of) for k, s in contacts.items()}
    carried = {k: rekey_account(s, winner_of) for k, s in members.items() if k not in batch}
    merged = {k: a for k, a in accounts.items() if k not in winner_of}
    for m in merges:
        loser = accounts.get(m.loser)
        if loser is None:
            continue
        winner = merged.get(m.winner) or AccountState(key=m.winner)
        moving = {k: v for k, v in loser.members.items() if k in members or k in contacts}
        merged[m.winner] = replace(winner, members={**moving, **winner.members})
    return AccountsMerged(batch, carried, merged)
