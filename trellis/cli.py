"""The ``trellis`` command line: one entry point for operators, developers and CI."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from services.ingest.cli import sources_app
from services.orchestrator.cli import playbook_app
from trellis.settings import TrellisSettings

app = typer.Typer(help="Trellis: event-driven B2B nurture orchestration.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(sources_app, name="sources")
app.add_typer(playbook_app, name="playbook")


def _settings() -> TrellisSettings:
    return TrellisSettings()


@app.command()
def dev() -> None:
    """Run the whole pipeline locally: broker, migrations, topics and the three services."""
    from trellis.dev import run_dev
    from trellis.logs import configure_logging

    settings = _settings()
    configure_logging("dev", settings.log_level)
    raise typer.Exit(asyncio.run(run_dev(settings)))


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
    revision: Annotated[str, typer.Option(help="Target revision (default: all heads).")] = "heads",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION.")] = False,
) -> None:
    """Apply database migrations (SQLite or PostgreSQL, from TRELLIS_DATABASE_URL)."""
    from trellis import migrate as m

    url = _settings().resolved_database_url
    if down:
        m.downgrade(url, revision if revision != "heads" else "base")
    else:
        m.upgrade(url, revision)
    typer.echo(f"database at {'base' if down and revision == 'heads' else revision}")


@topics_app.command("create")
def topics_create(
    partitions: Annotated[
        int | None, typer.Option(help="Default: TRELLIS_TOPIC_PARTITIONS.")
    ] = None,
    replication_factor: Annotated[int, typer.Option(help="1 for dev; 3 in production.")] = 1,
) -> None:
    """Create every Trellis topic and its dead-letter topic (existing ones are left alone)."""
    from trellis.kafka import ensure_topics

    settings = _settings()
    created = asyncio.run(
        ensure_topics(settings, partitions=partitions, replication_factor=replication_factor)
    )
    for name in created:
        typer.echo(f"created {name}")
    if not created:
        typer.echo("all topics already exist")


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
    from trellis.logs import configure_logging

    settings = IngestSettings()
    configure_logging("ingest", settings.log_level, settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.ingest_host,
        port=settings.ingest_port,
        log_config=None,
        access_log=False,
    )


@app.command()
def orchestrator() -> None:
    """Run the orchestrator consumer."""
    from services.orchestrator.main import run
    from services.orchestrator.settings import OrchestratorSettings
    from trellis.logs import configure_logging

    settings = OrchestratorSettings()
    configure_logging("orchestrator", settings.log_level, settings.log_json)
    asyncio.run(run(settings))


@app.command()
def notifier() -> None:
    """Run the notifier consumer."""
    from services.notifier.main import run
    from services.notifier.settings import NotifierSettings
    from trellis.logs import configure_logging

    settings = NotifierSettings()
    configure_logging("notifier", settings.log_level, settings.log_json)
    asyncio.run(run(settings))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
