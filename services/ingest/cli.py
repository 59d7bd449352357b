"""``trellis sources add|list|rotate|disable``: per-source credentials for ingest.

A new credential is printed once; write keys are stored only as hashes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import httpx
import orjson
import typer

from schemas.vocabulary import kinds_table
from services.ingest.settings import IngestSettings
from trellis.db import create_engine
from trellis.producers import dev_key_file_name
from trellis.sources import (
    Auth,
    Issued,
    Source,
    SourceKind,
    SourceMisconfigured,
    SourceNotFound,
    SqlAlchemySourceRepository,
)

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
    except SourceMisconfigured as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None


def _describe(source: Source) -> str:
    state = "disabled" if source.disabled else "active"
    limit = f"{source.rate_limit_per_s}/s" if source.rate_limit_per_s else "-"
    extra = f"\tsecrets={len(source.secrets)}" if source.auth is Auth.WEBHOOK else ""
    return (
        f"{source.id}\t{source.name}\t{source.kind.value}\t{source.auth.value}\t{state}"
        f"\t{limit}{extra}"
    )


def _show(issued: Issued) -> None:
    typer.echo(_describe(issued.source))
    what = "write key" if issued.source.auth is Auth.WRITE_KEY else "webhook secret"
    typer.echo(f"{what} (shown once): {issued.credential}")
    if issued.source.auth is Auth.WEBHOOK:
        path = "/v1/email/status/" if issued.source.kind is SourceKind.PROVIDER else "/v1/webhooks/"
        typer.echo(f"post signed requests to {path}{issued.source.id}")


_KINDS_HELP = (
    "What the source may assert. sdk: behaviour only (its key is public: it sits in web "
    "pages); server: sdk plus product and billing facts; crm: lead status, owners, deals; "
    "consent: consent grants (with evidence) and withdrawals; provider: email delivery "
    "callbacks only."
)


_TABLE = (
    "\n\n".join(f"{kinds}: {', '.join(types)}" for kinds, types in kinds_table())
    + "\n\nCustom event types (TRELLIS_INGEST_CUSTOM_EVENT_TYPES): sdk, server."
)


@sources_app.command("add", epilog="Who may send which event type:\n\n" + _TABLE)
def sources_add(
    name: str,
    kind: Annotated[SourceKind, typer.Option(help=_KINDS_HELP)] = SourceKind.SDK,
    signed: Annotated[
        bool,
        typer.Option(
            "--signed", help="Authenticate by Standard Webhooks signature instead of a write key."
        ),
    ] = False,
    rate_limit: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Requests per second.")
    ] = None,
) -> None:
    """Create a source and print its credential once."""
    auth = Auth.WEBHOOK if signed else Auth.WRITE_KEY
    _show(_run(lambda repo: repo.add(name, kind, datetime.now(UTC), rate_limit, auth)))


@sources_app.command("kind")
def sources_kind(name: str, kind: Annotated[SourceKind, typer.Argument(help=_KINDS_HELP)]) -> None:
    """Change what a source may assert (after the upgrade that introduced kinds, move CRM and
    consent producers to ``crm`` and ``consent``)."""
    typer.echo(_describe(_run(lambda repo: repo.set_kind(name, kind, datetime.now(UTC)))))


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


def _local_ingest_url() -> str:
    """Ingest on this machine, as ``TRELLIS_INGEST_HOST``/``TRELLIS_INGEST_PORT`` configure it."""
    settings = IngestSettings()
    host = settings.ingest_host
    try:
        everywhere = ipaddress.ip_address(host).is_unspecified  # a listener on every address
    except ValueError:
        everywhere = False  # a host name
    return f"http://{'127.0.0.1' if everywhere else host}:{settings.ingest_port}"


def _dev_write_key() -> str | None:
    """The dev ``sdk`` source's key that ``trellis dev`` leaves in the data directory, if any."""
    key_file = IngestSettings().data_dir / dev_key_file_name(SourceKind.SDK)
    return key_file.read_text().strip() if key_file.is_file() else None


def send_command(
    event_type: Annotated[
        str | None, typer.Argument(metavar="TYPE", help="Event type, e.g. page_viewed.")
    ] = None,
    type_option: Annotated[
        str | None, typer.Option("--type", help="The event type, as an option.")
    ] = None,
    write_key: Annotated[
        str | None,
        typer.Option(
            envvar="TRELLIS_WRITE_KEY",
            help="An SDK source's write key (default: the dev key `trellis dev` wrote).",
        ),
    ] = None,
    email: Annotated[str | None, typer.Option(help="Contact email.")] = None,
    external_id: Annotated[str | None, typer.Option(help="Contact external id.")] = None,
    account_domain: Annotated[str | None, typer.Option(help="Account domain.")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--property", "-p", help="key=value, repeatable.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Ingest base URL (default: TRELLIS_INGEST_HOST:TRELLIS_INGEST_PORT)."),
    ] = None,
    source: Annotated[str, typer.Option(help="The event's source attribute.")] = "trellis-cli",
) -> None:
    """Post one event to ``/v1/events`` and print the response (to test your wiring)."""
    if event_type and type_option and event_type != type_option:
        raise typer.BadParameter(f"{event_type!r} or {type_option!r}?", param_hint="TYPE")
    chosen_type = event_type or type_option
    if not chosen_type:
        raise typer.BadParameter("give the event type: trellis send TYPE", param_hint="TYPE")
    key = write_key or _dev_write_key()
    if key is None:
        raise typer.BadParameter("no dev key found: pass a key", param_hint="--write-key")
    url = url or _local_ingest_url()
    event: dict[str, Any] = {
        "id": f"cli-{uuid.uuid4().hex}",
        "type": chosen_type,
        "source": source,
        "time": datetime.now(UTC).isoformat(),
        "contact": {k: v for k, v in (("email", email), ("external_id", external_id)) if v},
        "properties": _properties(prop or []),
    }
    if account_domain:
        event["account"] = {"domain": account_domain}
    try:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/events", json=event, auth=(key, ""), timeout=30
        )
    except httpx.HTTPError as exc:
        typer.secho(f"could not reach {url}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{response.status_code} {response.text}")
    if response.is_error:
        raise typer.Exit(1)


@sources_app.command("confirm-link")
def sources_confirm_link(
    contact_id: str,
    channel: Annotated[str, typer.Option(help="email or sms")] = "email",
    base_url: Annotated[
        str | None,
        typer.Option(help="Ingest's public URL (default: TRELLIS_INGEST_PUBLIC_URL)."),
    ] = None,
) -> None:
    """Print a signed double-opt-in link for a contact (7 days). Only the recipient clicking it
    (or an SMS START) lifts their own earlier opt-out; send it in the confirmation they asked
    for."""
    from services.ingest.confirm import CHANNELS, confirmation_url

    if channel not in CHANNELS:
        raise typer.BadParameter(f"one of {', '.join(CHANNELS)}", param_hint="--channel")
    settings = IngestSettings()
    base = base_url or settings.ingest_public_url
    base = base or f"http://{settings.ingest_host}:{settings.ingest_port}"
    secret = settings.unsubscribe_secret.get_secret_value().encode()
    typer.echo(confirmation_url(base, secret, contact_id, channel, datetime.now(UTC)))
