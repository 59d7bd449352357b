"""The keys ``trellis dev`` leaves in the data directory for a developer to use at once.

Write keys for each kind of source, an admin key for the ops API and the dashboard, and a rep
key for the dev rep's own inbox. Only their hashes are in the database, so each file (mode 600)
is the copy a developer reads; a missing file, or a key no longer valid, gets a fresh key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.orchestrator.ops.auth import Scope, issue_key, key_for, revoke_key
from trellis.db import create_engine, transaction
from trellis.producers import DEV_KINDS, dev_key_file_name, dev_source_name
from trellis.settings import TrellisSettings
from trellis.sources import SourceNotFound, SqlAlchemySourceRepository

DEV_ADMIN_KEY = "dev-admin"
DEV_REP_KEY = "dev-rep"


async def ensure_dev_source(settings: TrellisSettings) -> Path:
    """One source per kind (``dev`` is the sdk one, the others ``dev-server``, ``dev-crm``,
    ``dev-consent``), keys in ``data_dir/dev-write-key`` and ``data_dir/dev-<kind>-write-key``;
    returns the sdk key's file."""
    engine = create_engine(settings.resolved_database_url)
    try:
        repo = SqlAlchemySourceRepository(engine)
        for kind in DEV_KINDS:
            key_file = settings.data_dir / dev_key_file_name(kind)
            name = dev_source_name(kind)
            now = datetime.now(UTC)
            try:
                source = await repo.get(name)
            except SourceNotFound:
                issued = await repo.add(name, kind, now)
            else:
                if source.kind is not kind:  # a dev source from before kinds existed
                    await repo.set_kind(name, kind, now)
                if key_file.exists():
                    continue
                issued = await repo.rotate(name, now)
            _write_secret(key_file, issued.credential)
    finally:
        await engine.dispose()
    return settings.data_dir / dev_key_file_name(DEV_KINDS[0])


async def ensure_ops_key(
    settings: TrellisSettings, file_name: str, scope: Scope, name: str, rep: str | None = None
) -> Path:
    """An ops API key in ``data_dir/<file_name>``; a fresh one revokes the previous keys of
    that ``name`` (and a rep key for another rep is replaced)."""
    key_file = settings.data_dir / file_name
    engine = create_engine(settings.resolved_database_url)
    try:
        async with transaction(engine) as conn:
            if key_file.exists():
                key = await key_for(conn, key_file.read_text().strip())
                if key is not None and key.scope is scope and key.rep == rep:
                    return key_file
            now = datetime.now(UTC)
            await revoke_key(conn, name, now)
            issued = await issue_key(conn, scope, now, rep=rep, name=name)
    finally:
        await engine.dispose()
    _write_secret(key_file, issued.secret)
    return key_file


async def ensure_dev_admin_key(settings: TrellisSettings) -> Path:
    return await ensure_ops_key(settings, "dev-admin-key", Scope.ADMIN, DEV_ADMIN_KEY)


async def ensure_dev_rep_key(settings: TrellisSettings, rep: str) -> Path:
    """The dev rep's own key: the dashboard's reminder inbox as that rep sees it."""
    return await ensure_ops_key(settings, "dev-rep-key", Scope.REP, DEV_REP_KEY, rep=rep)


def _write_secret(key_file: Path, secret: str) -> None:
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(secret + "\n")
    key_file.chmod(0o600)
