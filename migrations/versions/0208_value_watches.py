"""value watches: the time-to-value watch per account (issue 23, item 4)

One row per account with a watch: its state document, when the reminder clock looks at it
again (indexed: a clock pass reads only the due rows) and the closed-won, activation and first
milestone times the "time to first value" KPI reads. Expand only: a new table.

Revision ID: 0208
Revises: 0207
Create Date: 2026-11-26 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0208"
down_revision: str | None = "0207"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "value_watches",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True,
                  comment="the reminder clock looks again then (none: on events)"),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_milestone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_value_watches")),
        comment="The time-to-value watch per account (domain.value_watch, domain.churn_risk).",
    )  # fmt: skip
    op.create_index("ix_value_watches_next_check_at", "value_watches", ["next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_value_watches_next_check_at", table_name="value_watches")
    op.drop_table("value_watches")
