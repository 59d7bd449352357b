"""``trellis sources add|list|rotate|disable``: per-source credentials for ingest.

A new credential is printed once; write keys are stored only as hashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from services.ingest.settings import IngestSettings
from services.ingest.sources import (
    Issued,
    Source,
    SourceKind,
    SourceNotFound,
    SqlAlchemySourceRepository,
)
from trellis.db import create_engine

T = TypeVar("T")

sources_app = typer.Typer(help="Ingest sources and their credentials.", no_args_is_help=True)


def _run(action: Callable[[SqlAlchemySourceRepository], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = create_engine(IngestSettings().resolved_database_url)
        try:
            return await action(SqlAlchemySourceRepository(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(go())
    except SourceNotFound as exc:
        typer.secho(f"no source {exc}", fg="red", err=True)
        raise typer.Exit(1) from None


def _describe(source: Source) -> str:
    state = "disabled" if source.disabled else "active"
    limit = f"{source.rate_limit_per_s}/s" if source.rate_limit_per_s else "-"
    extra = f"\tsecrets={len(source.secrets)}" if source.kind is SourceKind.WEBHOOK else ""
    return f"{source.id}\t{source.name}\t{source.kind.value}\t{state}\t{limit}{extra}"


def _show(issued: Issued) -> None:
    typer.echo(_describe(issued.source))
    what = "write key" if issued.source.kind is SourceKind.SDK else "webhook secret"
    typer.echo(f"{what} (shown once): {issued.credential}")
    if issued.source.kind is SourceKind.WEBHOOK:
        typer.echo(f"post signed events to /v1/webhooks/{issued.source.id}")


@sources_app.command("add")
def sources_add(
    name: str,
    kind: Annotated[SourceKind, typer.Option(help="sdk: write key; webhook: signed.")] = (
        SourceKind.SDK
    ),
    rate_limit: Annotated[int | None, typer.Option(help="Requests per second.")] = None,
) -> None:
    """Create a source and print its credential once."""
    _show(_run(lambda repo: repo.add(name, kind, datetime.now(UTC), rate_limit)))


@sources_app.command("list")
def sources_list() -> None:
    """List sources (never their credentials)."""
    for source in _run(lambda repo: repo.list()):
        typer.echo(_describe(source))


@sources_app.command("rotate")
def sources_rotate(
    name: str,
    drop_previous: Annotated[
        bool, typer.Option("--drop-previous", help="Webhook: revoke older secrets at once.")
    ] = False,
) -> None:
    """Issue a new credential. SDK write keys are replaced; webhook secrets overlap."""
    _show(_run(lambda repo: repo.rotate(name, datetime.now(UTC), not drop_previous)))


@sources_app.command("disable")
def sources_disable(
    name: str,
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")] = False,
) -> None:
    """Refuse a source's requests with 403 (or accept them again with --enable)."""
    typer.echo(_describe(_run(lambda repo: repo.disable(name, datetime.now(UTC), not enable))))
