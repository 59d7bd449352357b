"""account merges: a merged-away account names the account it was merged into

An account first known by its domain and later, separately, by its CRM external id is one
company: when an event names both, the two are merged (issue 17, item 3). The merged-away row
stays, marked ``merged``, and keeps a domain the survivor could not take (it already has one),
so that domain still finds the survivor through ``merged_into``. Expand only: a new nullable
column, nothing rewritten.

Revision ID: 0204
Revises: 0203
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0204"
down_revision: str | None = "0203"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "merged_into",
                sa.String(length=64),
                nullable=True,
                comment="the account this one was merged into (0204)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("merged_into")
