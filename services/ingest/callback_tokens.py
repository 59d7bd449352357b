"""Signed callback tokens ingest checks; issued by other services with the same scheme
(``trellis.signed_tokens``)."""

from __future__ import annotations

from trellis.signed_tokens import (
    Checked,
    TokenProblem,
    check,
    split_status,
    status_callback_url,
    status_signer,
    unsubscribe_signer,
)

__all__ = [
    "Checked",
    "TokenProblem",
    "check",
    "split_status",
    "status_callback_url",
    "status_signer",
    "unsubscribe_signer",
]
