"""``trellis sources add|list|rotate|disable``: per-source credentials for ingest.

A new credential is printed once; write keys are stored only as hashes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import httpx
import orjson
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


def _properties(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values that parse as JSON (numbers, booleans, lists) keep their type."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--property")
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


def send_command(
    event_type: Annotated[str, typer.Option("--type", help="Event type, e.g. page_viewed.")],
    write_key: Annotated[
        str, typer.Option(envvar="TRELLIS_WRITE_KEY", help="An SDK source's write key.")
    ],
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    external_id: Annotated[str | None, typer.Option(help="Contact external id.")] = None,
    account_domain: Annotated[str | None, typer.Option(help="Account domain.")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--property", "-p", help="key=value, repeatable.")
    ] = None,
    url: Annotated[str, typer.Option(help="Ingest base URL.")] = "http://127.0.0.1:8000",
    source: Annotated[str, typer.Option(help="The event's source attribute.")] = "trellis-cli",
) -> None:
    """Post one event to ``/v1/events`` and print the response (to test your wiring)."""
    event: dict[str, Any] = {
        "id": f"cli-{uuid.uuid4().hex}",
        "type": event_type,
        "source": source,
        "time": datetime.now(UTC).isoformat(),
        "contact": {k: v for k, v in (("email", email), ("external_id", external_id)) if v},
        "properties": _properties(prop or []),
    }
    if account_domain:
        event["account"] = {"domain": account_domain}
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/events", json=event, auth=(write_key, ""), timeout=30
        )
    except httpx.HTTPError as exc:
        typer.secho(f"could not reach {url}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{response.status_code} {response.text}")
    if response.is_error:
        raise typer.Exit(1)
