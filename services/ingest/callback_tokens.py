"""Signed callback tokens, built on the notifier's unsubscribe signer (one HMAC scheme).

- Unsubscribe tokens: contact id + expiry, exactly as the notifier issues them.
- SMS status-callback tokens: ``contact|touch`` + expiry, signed with a key *derived* from the
  same secret so a status token can never pass as an unsubscribe token (domain separation).
  The notifier adds ``?token=...`` to its ``StatusCallback`` URL with :func:`status_callback_url`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from services.notifier.unsubscribe import UnsubscribeSigner

_EPOCH = datetime.fromtimestamp(0, UTC)


class TokenProblem(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"  # forged or malformed
    EXPIRED = "expired"


@dataclass(frozen=True)
class Checked:
    value: str | None
    problem: TokenProblem | None


def check(signer: UnsubscribeSigner, token: str | None, now: datetime) -> Checked:
    """The signed value, or why not (expired tokens are told apart from forged ones)."""
    if not token:
        return Checked(None, TokenProblem.MISSING)
    value = signer.verify(token, now)
    if value is not None:
        return Checked(value, None)
    if signer.verify(token, _EPOCH) is not None:  # genuine signature, past its expiry
        return Checked(None, TokenProblem.EXPIRED)
    return Checked(None, TokenProblem.INVALID)


def unsubscribe_signer(secret: bytes) -> UnsubscribeSigner:
    return UnsubscribeSigner(secret=secret, base_url="")


def status_signer(secret: bytes) -> UnsubscribeSigner:
    derived = hmac.new(secret, b"trellis/sms-status-callback", hashlib.sha256).digest()
    return UnsubscribeSigner(secret=derived, base_url="", ttl=timedelta(days=7))


def status_callback_url(
    base_url: str, secret: bytes, contact_id: str, touch_id: str, now: datetime
) -> str:
    token = status_signer(secret).token(f"{contact_id}|{touch_id}", now)
    return f"{base_url}?token={token}"


def split_status(value: str) -> tuple[str, str]:
    """``contact|touch`` -> (contact, touch); the token's own expiry was already stripped."""
    contact, _, touch = value.rpartition("|")
    return contact, touch
