"""The sources table: per-producer credentials (write keys hashed, webhook secrets) and kinds;
written by the ops API and ``trellis sources``, read by ingest."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, String, Table

from trellis.db import UtcDateTime, metadata

TZ = UtcDateTime()

sources = Table(
    "sources",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("kind", String(16), nullable=False, comment="sdk | server | crm | consent"),
    Column(
        "auth",
        String(16),
        nullable=False,
        default="write_key",
        server_default="write_key",
        comment="write_key | webhook",
    ),
    Column("write_key_hash", String(128), unique=True),
    Column("secrets", JSON, nullable=False, default=list, comment="active webhook secrets"),
    Column("rate_limit_per_s", Integer),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
)
