"""``trellis playbook ...``: check a playbook file before it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.orchestrator.adapters.playbook_file import PlaybookError, load_playbook
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
