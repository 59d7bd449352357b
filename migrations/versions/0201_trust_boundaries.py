"""trust boundaries: source kinds with their auth; who acted in the consent ledger

Sources gain ``auth`` (how they prove who they are); ``kind`` now says what they may assert:
write-key sources stay ``sdk`` (their keys are public by nature), webhook sources become
``server``. CRM and consent producers are moved with ``trellis sources kind NAME crm|consent``.
The consent ledger records who acted (``recipient``, ``source``, ``operator``) and, for a grant
refused because the recipient had opted out, why.

Revision ID: 0201
Revises: 0200
Create Date: 2026-11-26 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0201"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(
            sa.Column(
                "auth",
                sa.String(length=16),
                nullable=False,
                server_default="write_key",
                comment="write_key | webhook",
            )
        )
        batch.alter_column(
            "kind",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="sdk | server | crm | consent",
            existing_comment="sdk | webhook",
        )
    op.execute(
        sa.text("UPDATE sources SET auth = 'webhook', kind = 'server' WHERE kind = 'webhook'")
    )
    with op.batch_alter_table("consent_ledger") as batch:
        batch.add_column(
            sa.Column(
                "actor",
                sa.String(length=16),
                nullable=True,
                comment="recipient | source | operator (null: source, before 0201)",
            )
        )
        batch.add_column(
            sa.Column("refusal", sa.String(length=64), nullable=True, comment="why not applied")
        )
        batch.alter_column(
            "status",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="granted | withdrawn | refused | a suppression kind",
            existing_comment="granted | withdrawn",
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_ledger") as batch:
        batch.alter_column(
            "status",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="granted | withdrawn",
            existing_comment="granted | withdrawn | refused | a suppression kind",
        )
        batch.drop_column("refusal")
        batch.drop_column("actor")
    op.execute(sa.text("UPDATE sources SET kind = 'webhook' WHERE auth = 'webhook'"))
    with op.batch_alter_table("sources") as batch:
        batch.alter_column(
            "kind",
            existing_type=sa.String(length=16),
            existing_nullable=False,
            comment="sdk | webhook",
            existing_comment="sdk | server | crm | consent",
        )
        batch.drop_column("auth")
