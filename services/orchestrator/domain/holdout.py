"""Holdouts (pure): who is held out of a sequence, so its effect on stage progress can be
measured against people it never touched.

A sequence (or the whole nurture plan) declares ``holdout: 10%``. Membership is a hash of the
unit (the contact, or its account when the plan says ``holdout_by: account``) and the sequence
id: no state, no randomness, so live, replay and ``trellis simulate`` agree on every person,
and a person is in or out of a sequence for good whatever the batching or the order of events.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

HoldoutUnit = Literal["contact", "account"]
MAX_SHARE = 0.5  # beyond this the "control" is the treatment


def _share(value: object) -> object:
    """``"10%"`` -> 0.1; numbers pass (``0.1``); anything else is left for the validator."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            return value
    return value


HoldoutShare = Annotated[
    float,
    BeforeValidator(_share),
    Field(ge=0, le=MAX_SHARE, description='share held out: "10%" or 0.1 (at most 50%)'),
]


def bucket(unit_id: str, sequence_id: str) -> float:
    """A uniform number in [0, 1) fixed by the unit and the sequence (SHA-256, first 8 bytes)."""
    digest = hashlib.sha256(f"holdout\x1f{sequence_id}\x1f{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def held_out(share: float, unit_id: str, sequence_id: str) -> bool:
    """Whether this unit is in the sequence's holdout at ``share``."""
    return share > 0 and bucket(unit_id, sequence_id) < share


def holdout_unit(by: HoldoutUnit, contact_id: str, account_id: str | None) -> str:
    """The id membership is hashed from: the account's when holding out by account (a contact
    without an account is its own unit), else the contact's."""
    return account_id if by == "account" and account_id else contact_id
