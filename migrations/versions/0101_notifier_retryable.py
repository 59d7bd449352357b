"""notifier: send_ledger.retryable as a column (was a ``retryable:`` prefix of ``error``)

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-22 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ledger = sa.table(
    "send_ledger",
    sa.column("error", sa.Text()),
    sa.column("retryable", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("send_ledger") as batch:
        batch.add_column(
            sa.Column(
                "retryable",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="a failure the provider certainly did not accept (safe to retry)",
            )
        )
    # rows written before this revision carry the flag as a prefix of ``error``
    op.execute(
        ledger.update()
        .where(ledger.c.error.like("retryable: %"))
        .values(retryable=True, error=sa.func.substr(ledger.c.error, len("retryable: ") + 1))
    )
    op.execute(
        ledger.update()
        .where(ledger.c.error.like("permanent: %"))
        .values(error=sa.func.substr(ledger.c.error, len("permanent: ") + 1))
    )


def downgrade() -> None:
    op.execute(
        ledger.update()
        .where(ledger.c.retryable == sa.true())
        .values(error=sa.literal("retryable: ") + sa.func.coalesce(ledger.c.error, ""))
    )
    with op.batch_alter_table("send_ledger") as batch:
        batch.drop_column("retryable")
