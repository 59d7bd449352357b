"""Signed links and callback tokens: one HMAC-SHA256 scheme, shared by the services that issue
them (the notifier's unsubscribe and SMS status links, the ops API's double-opt-in links) and
the one that checks them (ingest), so no service imports another.

- Unsubscribe tokens (RFC 8058): contact id + expiry.
- SMS status-callback tokens: ``contact|touch`` + expiry, signed with a key *derived* from the
  same secret so a status token can never pass as an unsubscribe token (domain separation).
- Double-opt-in tokens: ``contact|channel`` + expiry, with a key derived the same way.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from trellis import b64url


@dataclass(frozen=True)
class UnsubscribeSigner:
    secret: bytes
    base_url: str
    ttl: timedelta = timedelta(days=60)

    def token(self, contact_id: str, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        payload = f"{contact_id}|{expires}".encode()
        sig = hmac.digest(self.secret, payload, "sha256")  # one call: one per email sent
        return f"{b64url.encode(payload)}.{b64url.encode(sig)}"

    def url(self, contact_id: str, now: datetime) -> str:
        # a token is unpadded base64url and ".": nothing in it that a URL must escape
        return f"{self.base_url}?token={self.token(contact_id, now)}"

    def verify(self, token: str, now: datetime) -> str | None:
        """The contact id the token was issued for, or ``None`` if forged, malformed or expired."""
        try:
            payload_b64, sig_b64 = token.split(".", 1)
            payload = b64url.decode(payload_b64)
            sig = b64url.decode(sig_b64)
            contact_id, expires = payload.decode().rsplit("|", 1)
            expiry = int(expires)
        except (ValueError, UnicodeDecodeError):
            return None
        expected = hmac.new(self.secret, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(sig, expected) or now.timestamp() > expiry:
            return None
        return contact_id


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


def confirmation_signer(secret: bytes) -> UnsubscribeSigner:
    """Double-opt-in links: bound to a contact and a channel, 7 days."""
    derived = hmac.new(secret, b"trellis/double-opt-in", hashlib.sha256).digest()
    return UnsubscribeSigner(secret=derived, base_url="", ttl=timedelta(days=7))
