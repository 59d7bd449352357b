"""``trellis import FILE|-|--from-topic TOPIC``: bring your history (``console.history_import``)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from console.history_import import publish_history
from console.history_read import History, in_order, lines_of, read_history
from schemas.topics import ENGAGEMENT
from services.ingest.settings import IngestSettings
from trellis.topic_reader import read_to_end

SHOWN_INVALID = 20


def import_command(
    file: Annotated[
        str | None,
        typer.Argument(
            help="JSON lines (gzip too) of our envelopes, Segment calls or "
            "CloudEvents; - reads stdin."
        ),
    ] = None,
    from_topic: Annotated[
        str | None,
        typer.Option(
            help="Read the history from this Kafka topic (whole, from its start) instead of a file."
        ),
    ] = None,
    source: Annotated[str, typer.Option(help="The source name stamped on the events.")] = "import",
) -> None:
    """Replay history into stages, scores and their histories at the events' own times, planning
    and sending nothing for the past. Safe while live traffic flows; re-run it to resume."""
    if (file is None) == (from_topic is None):
        typer.secho("give a FILE (or -) or --from-topic, one of them", fg="red", err=True)
        raise typer.Exit(2)
    settings = IngestSettings()
    custom = settings.ingest_custom_event_types
    if from_topic is not None:
        if from_topic == ENGAGEMENT:
            typer.secho(f"{ENGAGEMENT} is where history goes, not where it comes from", err=True)
            raise typer.Exit(2)
        history = asyncio.run(_from_topic(settings, from_topic, source, custom))
    else:
        history = read_history(lines_of(str(file)), source, custom)
    for number, why in history.invalid[:SHOWN_INVALID]:
        typer.echo(f"line {number}: skipped: {why}", err=True)
    if len(history.invalid) > SHOWN_INVALID:
        typer.echo(f"... and {len(history.invalid) - SHOWN_INVALID} more", err=True)
    total = len(history.events)
    done = asyncio.run(publish_history(settings, in_order(history.events), total))
    rate = done.events / done.seconds if done.seconds > 0 else 0.0
    typer.echo(
        f"imported {done.events} events as history ({rate:,.0f} events/s); "
        f"skipped {len(history.invalid)} invalid lines; "
        "the orchestrator applies them in occurred_at order, sending nothing"
    )


async def _from_topic(
    settings: IngestSettings, topic: str, source: str, custom: list[str]
) -> History:
    values = [v or b"" async for batch in read_to_end(settings, topic) for v in batch]
    return read_history(values, source, custom)
