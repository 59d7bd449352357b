"""revenue facts: an index on account_id

The KPIs load an account's revenue facts by ``account_id`` (adapters/revenue_store.py), and an
account merge moves the merged-away account's facts to the survivor by it
(adapters/account_merges.py); without the index each is a scan of every fact ever kept.
PostgreSQL builds it CONCURRENTLY (outside the migration's transaction), so the orchestrators
keep writing while it is built: an online migration.

Revision ID: 0205
Revises: 0204
Create Date: 2026-11-26 14:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0205"
down_revision: str | None = "0204"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME, TABLE, COLUMN = "ix_revenue_facts_account_id", "revenue_facts", "account_id"


def upgrade() -> None:
    online = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        op.create_index(NAME, TABLE, [COLUMN], postgresql_concurrently=online, if_not_exists=True)


def downgrade() -> None:
    online = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name=TABLE, postgresql_concurrently=online, if_exists=True)
