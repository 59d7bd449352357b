"""``trellis keys add|list|revoke``: ops API keys, printed once; only their hash is kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.ops.auth import (
    ApiKey,
    KeyProblem,
    Scope,
    issue_key,
    list_keys,
    revoke_key,
)
from trellis.db import create_engine, transaction
from trellis.settings import TrellisSettings

T = TypeVar("T")

keys_app = typer.Typer(help="Ops API keys (admin, rep, read).", no_args_is_help=True)


def _run(action: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = create_engine(TrellisSettings().resolved_database_url)
        try:
            async with transaction(engine) as conn:
                return await action(conn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _describe(key: ApiKey) -> str:
    state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
    return f"{key.id}\t{key.name}\t{key.scope.value}\t{key.rep or '-'}\t{state}"


@keys_app.command("add")
def keys_add(
    scope: Annotated[Scope, typer.Option(help="admin: everything; rep: own reminders; read.")],
    rep: Annotated[str | None, typer.Option(help="The rep's address (rep keys only).")] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
) -> None:
    """Issue a key and print it once."""
    try:
        issued = _run(lambda conn: issue_key(conn, scope, datetime.now(UTC), rep, name))
    except KeyProblem as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(_describe(issued.key))
    typer.echo(f"API key (shown once): {issued.secret}")
    typer.echo("use it as: Authorization: Bearer <key>")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves)."""
    for key in _run(list_keys):
        typer.echo(_describe(key))


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="A key id, or a name.")]) -> None:
    """Revoke a key by id (or every active key with that name); effective at once."""
    count = _run(lambda conn: revoke_key(conn, key, datetime.now(UTC)))
    if not count:
        typer.secho(f"no active key {key!r}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {count} key{'s' if count > 1 else ''}")
