"""The handoff tables (issue 23): an account's owner per team, with the one before, and the
handoffs between teams with their clocks' times (what the handoff KPIs read)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, text

from trellis.db import UtcDateTime, metadata

TZ = UtcDateTime()

account_owners = Table(
    "account_owners",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("team", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("previous_owner", String(200)),
    Column("source", String(16), nullable=False, comment="crm | pool"),
    Column("since", TZ, nullable=False),
    Index("ix_account_owners_owner", "team", "owner"),  # the round-robin's load per member
    comment="Who owns an account in each team (marketing, sales, success), and who did before.",
)

handoffs = Table(
    "handoffs",
    metadata,
    Column("id", String(64), primary_key=True, comment="per account, kind and episode"),
    Column("account_id", String(64), nullable=False, index=True),
    Column("contact_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("team", String(64), nullable=False),
    Column("owner", String(200)),
    Column("previous_owner", String(200)),
    Column("episode", String(200), nullable=False),
    Column("reminder_id", String(64)),
    Column("created_at", TZ, nullable=False),
    Column("deadline_at", TZ, nullable=False),
    Column("escalate_at", TZ, nullable=False),
    Column("accepted_at", TZ),
    Column("first_contact_at", TZ),
    Column("completed_at", TZ),
    Column("breached_at", TZ),
    Column("escalated_at", TZ),
    Column("escalated_to", String(200)),
    Index(
        "ix_handoffs_open",
        "deadline_at",
        postgresql_where=text("completed_at IS NULL"),
        sqlite_where=text("completed_at IS NULL"),
    ),
    comment="Handoffs between teams and their SLA clocks (domain.handoffs).",
)
