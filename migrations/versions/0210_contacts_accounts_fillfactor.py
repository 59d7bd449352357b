"""contacts and accounts: fillfactor 80 on PostgreSQL, so a batch's state updates stay HOT

Every engagement batch rewrites the row of each contact and account it touches (state, score,
stage, times), none of them an indexed column. PostgreSQL can then update in place (a HOT
update: the new row version on the same page, no new entry in any index) only if the page has
room for it; pages filled to 100% have none, so each update wrote a new row version elsewhere
and an entry into every index of the table (contacts has four), each on a random page once the
tables outgrow the server's buffers (issue 15, the cost per event at 1M known contacts). 80%
leaves room on every page written from now on; existing pages keep their fill until rewritten
(``VACUUM FULL`` or ``pg_repack``, optional). ``SET (fillfactor)`` takes a SHARE UPDATE
EXCLUSIVE lock: reads and writes go on (an online migration). SQLite has no such setting.

Revision ID: 0210
Revises: 0209
Create Date: 2026-11-27 11:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0210"
down_revision: str | None = "0209"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE contacts SET (fillfactor = 80)")
    op.execute("ALTER TABLE accounts SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE contacts RESET (fillfactor)")
    op.execute("ALTER TABLE accounts RESET (fillfactor)")
