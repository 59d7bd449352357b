"""The notifier's operator commands (registered on ``trellis`` by ``console.cli``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from services.notifier.reconcile import read_outcomes, reconcile, settled
from services.notifier.settings import NotifierDatabase
from trellis.db import create_engine


def _restore_point(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("an ISO 8601 time, e.g. 2026-11-20T10:00:00Z") from exc
    if when.tzinfo is None:
        raise typer.BadParameter("give the zone (Z or +01:00): a restore point is an instant")
    return when.astimezone(UTC)


def reconcile_command(
    since: Annotated[
        str, typer.Option(help="The restore point: when the restored backup was taken (ISO 8601).")
    ],
) -> None:
    """After restoring the database: mark every touch the providers took after SINCE (read from
    trellis.outcomes.v1) as sent in the send ledger (TRELLIS_NOTIFIER_DATABASE_URL's database; on
    SQLite by default the file beside the orchestrator's). Run it before starting the notifiers."""
    settings = NotifierDatabase()
    restore_point = _restore_point(since)

    async def run() -> tuple[int, int]:
        found = settled(await read_outcomes(settings), restore_point)
        engine = create_engine(settings.resolved_database_url)
        try:
            return len(found), await reconcile(engine, found.values(), datetime.now(UTC))
        finally:
            await engine.dispose()

    found, written = asyncio.run(run())
    typer.echo(f"{found} touches settled after {restore_point.isoformat()}; "
               f"{written} written to the send ledger (the others were already there)")  # fmt: skip
