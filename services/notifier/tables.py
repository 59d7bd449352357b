"""The notifier's send ledger: one row per touch id, written before the provider call."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Integer, String, Table, Text, false

from trellis.db import UtcDateTime, metadata

TZ = UtcDateTime()

send_ledger = Table(
    "send_ledger",
    metadata,
    Column("touch_id", String(100), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("status", String(16), nullable=False, comment="sending | sent | failed"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("provider_id", String(200)),
    Column("error", Text),
    Column(
        "retryable",
        Boolean,
        nullable=False,
        default=False,
        server_default=false(),
        comment="a failure the provider certainly did not accept (safe to retry)",
    ),
    Column("topic_offset", BigInteger),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
)

rate_budget = Table(
    "rate_budget",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column(
        "tat",
        Float(precision=53),
        nullable=False,
        comment="theoretical arrival time (epoch seconds) of the next free send slot (GCRA)",
    ),
)
