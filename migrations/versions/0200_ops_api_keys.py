"""orchestrator: ops API keys

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-23 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("orchestrator",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False, comment="admin | rep | read"),
        sa.Column(
            "rep",
            sa.String(length=200),
            nullable=True,
            comment="the rep address a rep key is bound to",
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False, comment="sha256 of the key"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        comment="Ops API keys: shown once when issued, only their hash is kept.",
    )


def downgrade() -> None:
    op.drop_table("api_keys")
