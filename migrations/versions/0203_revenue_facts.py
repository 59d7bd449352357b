"""revenue facts: deal amounts, seats, cancellations and NPS answers kept for the KPIs

Revision ID: 0203
Revises: 0202
Create Date: 2026-11-26 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0203"
down_revision: str | None = "0202"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revenue_facts",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False,
                  comment="deal_*, seats_changed, nps_submitted, ..."),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("deal_id", sa.String(length=200), nullable=True),
        sa.Column("amount", sa.String(length=40), nullable=True,
                  comment="exact decimal text; with its currency, never summed"),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("deal_stage", sa.String(length=200), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("previous_seats", sa.Integer(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_revenue_facts")),
        comment="The business facts KPIs need (domain/kpis.py), kept past the events' lateness "
        "window.",
    )  # fmt: skip
    op.create_index("ix_revenue_facts_occurred_at", "revenue_facts", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_revenue_facts_occurred_at", table_name="revenue_facts")
    op.drop_table("revenue_facts")
