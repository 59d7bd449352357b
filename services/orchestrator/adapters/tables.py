"""The orchestrator's tables: inbox (exactly-once), contacts, accounts, history, decisions,
touches and the consent ledger. SQLAlchemy Core: bulk statements, no ORM identity map."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from trellis.db import UtcDateTime, metadata

PAUSE_KINDS = "kind IN ('account_paused', 'account_resumed')"

TZ = UtcDateTime()
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

inbox = Table(
    "inbox",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("received_at", TZ, nullable=False),
    Index("ix_inbox_received_at", "received_at"),  # pruning (services/orchestrator/prune.py)
    comment="Every consumed message id, written in the same transaction as its effects.",
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("external_id", String(200), unique=True),
    Column("domain", String(253), unique=True),
    Column("name", String(300)),
    Column("stage", String(32), nullable=False),
    Column("score", Float, nullable=False, default=0.0),
    Column("fit", Float, nullable=False, default=0.0),
    Column("traits", JSON, nullable=False, default=dict),
    Column("owner_rep", String(200)),
    Column("state", JSON, nullable=False, default=dict),
    Column("stage_entered_at", TZ),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("merged_into", String(64), comment="the account this one was merged into (0204)"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("external_id", String(200), unique=True),
    Column("email", String(320), unique=True),
    Column("account_id", String(64), index=True),
    Column("role", String(32)),
    Column("timezone", String(64)),
    Column("stage", String(32), nullable=False),
    Column("score", Float, nullable=False, default=0.0),
    Column("fit", Float, nullable=False, default=0.0),
    Column("traits", JSON, nullable=False, default=dict),
    Column("owner_rep", String(200)),
    Column("state", JSON, nullable=False, default=dict),
    Column("stage_entered_at", TZ),
    Column("last_event_at", TZ),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
)

identity_aliases = Table(
    "identity_aliases",
    metadata,
    Column("alias", String(260), primary_key=True, comment="'anon:<id>', 'email:<addr>', ..."),
    Column("contact_id", String(64), nullable=False, index=True),
    Column("created_at", TZ, nullable=False),
)

stage_history = Table(
    "stage_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("from_stage", String(32)),
    Column("to_stage", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("event_id", String(200)),
    Column("occurred_at", TZ, nullable=False),
    Column("playbook_version", String(64), nullable=False),
    Index("ix_stage_history_subject", "subject_kind", "subject_id", "occurred_at"),
)

revenue_facts = Table(
    "revenue_facts",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("kind", String(32), nullable=False, comment="deal_*, seats_changed, nps_submitted, ..."),
    Column("account_id", String(64)),
    Column("contact_id", String(64)),
    Column("deal_id", String(200)),
    Column("amount", String(40), comment="exact decimal text; with its currency, never summed"),
    Column("currency", String(3)),
    Column("deal_stage", String(200)),
    Column("seats", Integer),
    Column("previous_seats", Integer),
    Column("score", Integer),
    Column("effective_at", TZ),
    Column("occurred_at", TZ, nullable=False),
    Index("ix_revenue_facts_occurred_at", "occurred_at"),
    Index("ix_revenue_facts_account_id", "account_id"),  # an account's KPIs, merges (0205)
    comment="The business facts KPIs need (domain/kpis.py), kept past the events' lateness window.",
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("contact_id", String(64), index=True),
    Column("account_id", String(64), index=True),
    Column("touch_id", String(64), index=True),
    Column("kind", String(32), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("facts", JSON, nullable=False, default=dict),
    Column("event_id", String(200)),
    Column("playbook_version", String(64), nullable=False),
    Column("decided_at", TZ, nullable=False),
    Index("ix_decisions_decided_at", "decided_at"),  # pruning
    Index(  # an account's pause marks, read every batch (account plays; 0206)
        "ix_decisions_account_pauses",
        "account_id",
        "decided_at",
        postgresql_where=text(PAUSE_KINDS),
        sqlite_where=text(PAUSE_KINDS),
    ),
)

touches = Table(
    "touches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("contact_id", String(64), nullable=False, index=True),
    Column("account_id", String(64), index=True),
    Column("channel", String(32), nullable=False),
    Column("template_id", String(200), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("sequence_step", String(200)),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    Column("due_at", TZ, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_at", TZ),
    Column("dispatched_at", TZ),
    Column("created_at", TZ, nullable=False),
    Index("ix_touches_status_due", "status", "due_at"),
    Index("ix_touches_created_at", "created_at"),  # pruning finished touches
)

consent_ledger = Table(
    "consent_ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("contact_id", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column(
        "status",
        String(16),
        nullable=False,
        comment="granted | withdrawn | refused | a suppression kind",
    ),
    Column("source", String(200), nullable=False),
    Column("evidence", Text),
    Column("event_id", String(200)),
    Column("recorded_at", TZ, nullable=False),
    Column(
        "actor",
        String(16),
        comment="recipient | source | operator (null: source, before 0201)",
    ),
    Column("refusal", String(64), comment="why not applied"),
    Index("ix_consent_ledger_contact", "contact_id", "channel", "recorded_at"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("rep", String(200), nullable=False, index=True),
    Column("contact_id", String(64), index=True),
    Column("account_id", String(64), index=True),
    Column("reason", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("evidence", JSON, nullable=False, default=list),
    Column("talking_points", JSON, nullable=False, default=list),
    Column("snoozed_until", TZ),
    Column("due_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("suppressed", Boolean, nullable=False, default=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scope", String(16), nullable=False, comment="admin | rep | read"),
    Column("rep", String(200), comment="the rep address a rep key is bound to"),
    Column("key_hash", String(64), nullable=False, unique=True, comment="sha256 of the key"),
    Column("created_at", TZ, nullable=False),
    Column("revoked_at", TZ),
    comment="Ops API keys: shown once when issued, only their hash is kept.",
)
