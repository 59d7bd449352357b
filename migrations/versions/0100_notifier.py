"""notifier: shared provider rate budget

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-22 22:01:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("notifier",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_budget",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column(
            "tat",
            sa.Float(precision=53),
            nullable=False,
            comment="theoretical arrival time (epoch seconds) of the next free send slot (GCRA)",
        ),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_rate_budget")),
    )


def downgrade() -> None:
    op.drop_table("rate_budget")
