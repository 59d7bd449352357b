"""Unpadded base64url (RFC 4648 §5), the form tokens and cursors take in URLs."""

from __future__ import annotations

import base64


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    """Raises ``binascii.Error`` / ``ValueError`` on malformed input."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
