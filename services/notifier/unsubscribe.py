"""Signed one-click unsubscribe links (RFC 8058): the signer lives in ``trellis.signed_tokens``,
shared with ingest, which checks them."""

from __future__ import annotations

from trellis.signed_tokens import UnsubscribeSigner

__all__ = ["UnsubscribeSigner"]
