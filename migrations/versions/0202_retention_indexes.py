"""retention: indexes on the time columns the pruning job deletes by

Without them each pruning batch scans the whole inbox, decision log or touches table.
PostgreSQL builds them CONCURRENTLY (outside the migration's transaction), so the orchestrators
keep writing while they are built: an online migration.

Revision ID: 0202
Revises: 0201
Create Date: 2026-11-26 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0202"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_inbox_received_at", "inbox", "received_at"),
    ("ix_decisions_decided_at", "decisions", "decided_at"),
    ("ix_touches_created_at", "touches", "created_at"),
)


def upgrade() -> None:
    online = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        for name, table, column in INDEXES:
            op.create_index(
                name, table, [column], postgresql_concurrently=online, if_not_exists=True
            )


def downgrade() -> None:
    online = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        for name, table, _ in INDEXES:
            op.drop_index(name, table_name=table, postgresql_concurrently=online, if_exists=True)
