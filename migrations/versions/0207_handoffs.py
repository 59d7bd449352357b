"""handoffs: an account's owner per team, and the handoffs between teams with their clocks

Issue 23: the funnel's stages belong to teams (marketing, sales, success); entering another
team's stage hands the account over with an SLA. Expand only: two new tables.

Revision ID: 0207
Revises: 0206
Create Date: 2026-11-26 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0207"
down_revision: str | None = "0206"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_owners",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("previous_owner", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False, comment="crm | pool"),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "team"),
        comment="Who owns an account in each team (marketing, sales, success), and who did before.",
    )
    op.create_index("ix_account_owners_owner", "account_owners", ["team", "owner"])
    op.create_table(
        "handoffs",
        sa.Column(
            "id", sa.String(length=64), nullable=False, comment="per account, kind and episode"
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("previous_owner", sa.String(length=200), nullable=True),
        sa.Column("episode", sa.String(length=200), nullable=False),
        sa.Column("reminder_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalate_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_to", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        comment="Handoffs between teams and their SLA clocks (domain.handoffs).",
    )
    op.create_index("ix_handoffs_account_id", "handoffs", ["account_id"])
    op.create_index(
        "ix_handoffs_open",
        "handoffs",
        ["deadline_at"],
        postgresql_where=sa.text("completed_at IS NULL"),
        sqlite_where=sa.text("completed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_handoffs_open", table_name="handoffs")
    op.drop_index("ix_handoffs_account_id", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_index("ix_account_owners_owner", table_name="account_owners")
    op.drop_table("account_owners")
