"""``trellis playbook check`` and ``trellis simulate``: try a playbook before it runs."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from services.orchestrator.adapters.playbook_file import (
    PlaybookError,
    default_playbook,
    load_playbook,
)
from services.orchestrator.domain.playbook import EntryRule, Playbook

playbook_app = typer.Typer(help="Lifecycle playbooks.", no_args_is_help=True)


def _describe(rule: EntryRule) -> str:
    parts: list[str] = []
    if rule.from_stage is not None:
        parts.append(f"from {rule.from_stage}")
    if rule.min_score is not None:
        parts.append(f"score>={rule.min_score:g}")
    if rule.min_engagements:
        parts.append(f"engagements>={rule.min_engagements}")
    if rule.min_distinct:
        parts.append(f"distinct>={rule.min_distinct}")
    if rule.min_fit is not None:
        parts.append(f"fit>={rule.min_fit:g}")
    if rule.any_of:
        parts.append("any of " + ", ".join(m.label for m in rule.any_of))
    return "; ".join(parts) or "first engagement"


def summary(playbook: Playbook) -> list[str]:
    lines = [f"version {playbook.version}", "stages:"]
    lines += [f"  {r.stage:<12} {_describe(r)}" for r in playbook.stages]
    lines += [f"  {r.stage:<12} on {r.event.label}" for r in playbook.explicit]
    for stage, days in playbook.recycle_after_days.items():
        lines.append(f"  {stage:<12} recycles to awareness after {days:g} days")
    s = playbook.scoring
    lines.append(
        f"scoring: {len(s.rules)} rules, half-life {s.half_life_days:g} days, max {s.max_score:g}"
    )
    lines.append(f"fit: {', '.join(c.name for c in playbook.fit.criteria) or 'none'}")
    gates = ", ".join(f"{k}>={v}" for k, v in playbook.accounts.min_roles.items())
    lines.append(f"accounts: roles {', '.join(playbook.accounts.committee_roles)}; {gates}")
    return lines


@playbook_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Validate a playbook file and print its stages, thresholds and version."""
    try:
        playbook = load_playbook(file)
    except PlaybookError as exc:
        typer.secho(f"{file}: invalid playbook", fg="red", err=True)
        for line in exc.errors:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{file}: ok")
    for line in summary(playbook):
        typer.echo(line)


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def simulate_command(
    events: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="History as JSON lines.")
    ],
    playbook: Annotated[
        Path | None, typer.Option(dir_okay=False, help="The proposed playbook.yaml.")
    ] = None,
    current: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False, help="The playbook to compare with (default: the shipped one)."
        ),
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
    skip_invalid: Annotated[
        bool, typer.Option(help="Skip invalid lines instead of failing.")
    ] = False,
) -> None:
    """Replay history through the live decision code and show what a playbook would change."""
    from services.orchestrator.simulate import HistoryError, compare_table, read_history, simulate

    try:
        base = load_playbook(current) if current else default_playbook()
        proposed = load_playbook(playbook) if playbook else base
        history = read_history(events, skip_invalid)
    except (PlaybookError, HistoryError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        for line in getattr(exc, "errors", []):
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from exc
    results = []
    for label, book in (("current", base), ("proposed", proposed)):
        with typer.progressbar(length=len(history), label=f"{label:>8}", file=sys.stderr) as bar:
            results.append(simulate(history, book, progress=bar.update))
    rows = compare_table(results[0], results[1])
    if output is Format.JSON:
        payload = {"current": results[0].as_dict(), "proposed": results[1].as_dict()}
        typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    elif output is Format.CSV:
        writer = csv.writer(sys.stdout)
        writer.writerow(["measure", "current", "proposed", "change"])
        writer.writerows(rows)
    else:
        width = max(len(r[0]) for r in rows)
        typer.echo(f"{'':<{width}}  {'current':>9}  {'proposed':>9}  change")
        for measure, a, b, change in rows:
            typer.echo(f"{measure:<{width}}  {a:>9}  {b:>9}  {change}")
