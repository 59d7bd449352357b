"""Signed one-click unsubscribe tokens (RFC 8058): contact id + expiry, HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from trellis import b64url


@dataclass(frozen=True)
class UnsubscribeSigner:
    secret: bytes
    base_url: str
    ttl: timedelta = timedelta(days=60)

    def token(self, contact_id: str, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        payload = f"{contact_id}|{expires}".encode()
        sig = hmac.new(self.secret, payload, hashlib.sha256).digest()
        return f"{b64url.encode(payload)}.{b64url.encode(sig)}"

    def url(self, contact_id: str, now: datetime) -> str:
        return f"{self.base_url}?{urlencode({'token': self.token(contact_id, now)})}"

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
