"""The ``trellis`` command line: one entry point for operators, developers and CI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from console.history_cli import import_command
from schemas.vocabulary import SourceKind
from services.ingest.cli import send_command, sources_app
from services.notifier.cli import reconcile_command
from services.orchestrator.cli import playbook_app, simulate_command
from services.orchestrator.ops.cli import keys_app
from trellis.producers import DEV_KINDS, dev_key_file_name
from trellis.settings import TrellisSettings

app = typer.Typer(help="Trellis: event-driven B2B nurture orchestration.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
schemas_app = typer.Typer(
    help="The topics' contract: JSON Schema and AsyncAPI.", no_args_is_help=True
)
app.add_typer(schemas_app, name="schemas")
app.add_typer(sources_app, name="sources")
app.command("send")(send_command)
app.command("import")(import_command)
app.add_typer(playbook_app, name="playbook")
app.add_typer(keys_app, name="keys")
app.command("simulate")(simulate_command)
app.command("reconcile")(reconcile_command)


def _settings() -> TrellisSettings:
    return TrellisSettings()


@app.command()
def dev() -> None:
    """Run the whole pipeline locally: broker, migrations, topics, a dev rep and the three
    services; restarts a crashed service, says "ready" once every consumer owns partitions."""
    from console.dev import run_dev
    from trellis.logs import configure_logging

    settings = _settings()
    configure_logging("dev", settings.log_level)
    raise typer.Exit(asyncio.run(run_dev(settings)))


@app.command()
def demo(
    accounts: Annotated[int, typer.Option(help="How many accounts (with their committees).")] = 50,
    seed: Annotated[int, typer.Option(help="Same seed, same world.")] = 1,
    span_days: Annotated[int, typer.Option(help="The journeys are squeezed into these days.")] = 90,
    url: Annotated[str, typer.Option(help="Ingest's base URL.")] = "http://127.0.0.1:8000",
    write_key: Annotated[
        str | None,
        typer.Option(help="Send everything with this key (default: the dev sources' keys)."),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Events per second (default: as fast as accepted).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write JSON lines here instead of sending.")
    ] = None,
) -> None:
    """Stream a synthetic B2B world (accounts, buying committees, consent) into a running stack."""
    import sys

    import orjson

    from console.demo_lift import plan_held_out, stack_plan
    from trellis.demo import DemoRefused, now_utc, shifted_world, stream

    # the plan's holdouts shape the world: nurture lifts where the plan measures it
    events = shifted_world(accounts, seed, span_days, now_utc(), plan_held_out(stack_plan()))
    if out is not None:
        out.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        typer.echo(f"wrote {len(events)} events of {accounts} accounts to {out}")
        return
    keys = {kind: write_key for kind in DEV_KINDS} if write_key else _dev_write_keys()
    with typer.progressbar(length=len(events), label="demo events", file=sys.stderr) as bar:
        try:
            sent = asyncio.run(stream(url, keys, events, rate, bar.update))
        except (DemoRefused, OSError) as exc:
            typer.secho(f"demo stopped: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"{sent} events of {accounts} accounts accepted by {url}")


def _dev_write_keys() -> dict[SourceKind, str]:
    keys = {}
    for kind in DEV_KINDS:
        key_file = _settings().data_dir / dev_key_file_name(kind)
        if not key_file.exists():
            typer.secho(
                f"no {key_file}: start the stack with `make run` first, or pass --write-key",
                fg="red",
                err=True,
            )
            raise typer.Exit(1)
        keys[kind] = key_file.read_text().strip()
    return keys


@app.command()
def broker(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: TRELLIS_EMBEDDED_BROKER_PORT.")] = None,
) -> None:
    """Run the embedded (memory-only!) Kafka-protocol broker in the foreground."""
    from trellis.broker import MEMORY_ONLY_WARNING, EmbeddedBroker
    from trellis.logs import configure_logging

    settings = _settings()
    configure_logging("broker", settings.log_level)
    embedded = EmbeddedBroker(host, port or settings.embedded_broker_port)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with embedded:
            typer.secho(MEMORY_ONLY_WARNING, fg="red", bold=True, err=True)
            typer.echo(f"broker ready at {embedded.bootstrap}; Ctrl-C stops it", err=True)
            await stop.wait()

    asyncio.run(serve())


@app.command()
def migrate(
    revision: Annotated[
        str | None, typer.Option(help="Target revision (default: all heads; required with --down).")
    ] = None,
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION.")] = False,
    yes_destroy_data: Annotated[
        bool, typer.Option("--yes-destroy-data", help="Needed for --down in prod: it drops data.")
    ] = False,
) -> None:
    """Apply database migrations (SQLite or PostgreSQL, from TRELLIS_DATABASE_URL) to the
    orchestrator's database and the notifier's (TRELLIS_NOTIFIER_DATABASE_URL; on SQLite a file
    of its own by default)."""
    from console import databases
    from services.notifier.settings import NotifierDatabase
    from trellis import migrate as m

    settings = NotifierDatabase()
    if down and revision is None:  # a bare --down once meant "base": every table dropped
        typer.secho("--down needs an explicit --revision (`base` drops every table)", err=True)
        raise typer.Exit(2)
    if down and settings.env == "prod" and not yes_destroy_data:
        typer.secho("--down in prod drops columns and tables: add --yes-destroy-data", err=True)
        raise typer.Exit(2)
    if down:
        urls = asyncio.run(databases.downgrade_all(settings, str(revision)))
    else:
        urls = asyncio.run(databases.migrate_all(settings, revision or m.HEADS))
    typer.echo(f"database{'s' if len(urls) > 1 else ''} at {revision or m.HEADS}")


@topics_app.command("create")
def topics_create(
    partitions: Annotated[
        int | None, typer.Option(help="Default: TRELLIS_TOPIC_PARTITIONS.")
    ] = None,
    replication_factor: Annotated[int, typer.Option(help="1 for dev; 3 in production.")] = 1,
    min_insync_replicas: Annotated[
        int | None,
        typer.Option(help="2 in production (with replication 3); broker default if unset."),
    ] = None,
) -> None:
    """Create every Trellis topic and its dead-letter topic (existing ones are left alone)."""
    from trellis.kafka import ensure_topics

    settings = _settings()
    created = asyncio.run(
        ensure_topics(
            settings,
            partitions=partitions,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
        )
    )
    for name in created:
        typer.echo(f"created {name}")
    if not created:
        typer.echo("all topics already exist")


@schemas_app.command("export")
def schemas_export(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if a file is stale.")
    ] = False,
) -> None:
    """Write schemas/json/ (JSON Schema per event type) and schemas/asyncapi.json (every topic)
    from the pydantic models in schemas/."""
    from schemas.export import export

    stale = export(check=check)
    for name in stale:
        typer.echo(f"{'stale' if check else 'wrote'}: {name}", err=check)
    if check and stale:
        raise typer.Exit(1)
    if not stale:
        typer.echo("schemas/json/ and schemas/asyncapi.json are current")


@topics_app.command("list")
def topics_list() -> None:
    """List topics and their partition counts."""
    from trellis.kafka import describe_topics

    for name, count in sorted(asyncio.run(describe_topics(_settings())).items()):
        typer.echo(f"{name}\t{count}")


@app.command()
def ingest() -> None:
    """Run the ingest HTTP service."""
    import uvicorn

    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings
    from trellis.settings import SERVER_KEEP_ALIVE_S
    from trellis.startup import checked_settings

    settings = checked_settings("ingest", IngestSettings)
    uvicorn.run(
        create_app(settings),
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
    )


@app.command()
def orchestrator() -> None:
    """Run the orchestrator consumer."""
    from services.orchestrator.main import run
    from services.orchestrator.settings import OrchestratorSettings
    from trellis.runtime import run_service
    from trellis.startup import checked_settings

    settings = checked_settings("orchestrator", OrchestratorSettings)
    run_service(run(settings))


@app.command()
def notifier() -> None:
    """Run the notifier consumer."""
    from services.notifier.main import run
    from services.notifier.settings import NotifierSettings
    from trellis.runtime import run_service
    from trellis.startup import checked_settings

    settings = checked_settings("notifier", NotifierSettings)
    run_service(run(settings))


@app.command("dev-sinks")
def dev_sinks(
    smtp: Annotated[bool, typer.Option(help="Run the SMTP catcher (.eml files).")] = True,
    sms: Annotated[bool, typer.Option(help="Run the SMS sink (.json files).")] = True,
) -> None:
    """Run the local SMTP catcher and SMS sink writing to <data_dir>/outbox (dev default)."""
    from services.notifier.devsinks import serve_dev_sinks
    from services.notifier.settings import NotifierSettings
    from trellis.logs import configure_logging

    settings = NotifierSettings()
    configure_logging("dev-sinks", settings.log_level, settings.log_json)
    asyncio.run(serve_dev_sinks(settings, smtp, sms))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
