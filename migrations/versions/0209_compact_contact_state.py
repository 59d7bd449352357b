"""contacts.state in the compact positional form (issue 15, item 2)

A contact's state was a JSON object with a key for every field of every nested progress, award,
transition and pending event; it is now one JSON array in a fixed order, its window one string
of lines (``adapters/state_codec.py``): ~35% fewer bytes, and a state with a full window decodes
~5x faster, its events read only when needed (``python -m bench.state_codec``).

Upgrade rewrites nothing: the release before this one reads only the object form, and it may
still be consuming while this runs (expand/contract, ``tests/integration/test_online_upgrade.py``);
the new reader takes every form and a contact is stored compact on its next save. Downgrade
writes the object form back (in chunks by id), so the code before this revision can read every
row again. Offline (``--sql``) there is no row to read: the conversion needs a connection.

Revision ID: 0209
Revises: 0208
Create Date: 2026-11-26 17:20:00
"""

from collections.abc import Callable, Sequence

import orjson
import sqlalchemy as sa
from alembic import op

from services.orchestrator.adapters.state_codec import object_json, read_contact

revision: str = "0209"
down_revision: str | None = "0208"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 1000


def _rewrite(wanted: str, convert: Callable[[bytes], bytes]) -> None:
    """Every contact whose state text starts with ``wanted`` (``{`` or ``[``), converted."""
    if op.get_context().as_sql:  # offline SQL: no rows to convert (see the docstring)
        return
    bind = op.get_bind()
    write = sa.text(
        "UPDATE contacts SET state = CAST(:state AS json) WHERE id = :id"
        if bind.dialect.name == "postgresql"
        else "UPDATE contacts SET state = :state WHERE id = :id"
    )
    read = sa.text(
        "SELECT id, CAST(state AS TEXT) FROM contacts WHERE id > :after ORDER BY id LIMIT :n"
    )
    after = ""
    while rows := bind.execute(read, {"after": after, "n": CHUNK}).all():
        after = rows[-1][0]
        changed = [
            {"id": cid, "state": convert(text.encode()).decode()}
            for cid, text in rows
            if text and text.lstrip().startswith(wanted) and text.strip() != "{}"
        ]
        if changed:
            bind.execute(write, changed)


def upgrade() -> None:
    """Nothing to rewrite: states become compact as they are saved (see the docstring)."""


def downgrade() -> None:
    _rewrite("[", lambda text: object_json(read_contact(orjson.loads(text))))
