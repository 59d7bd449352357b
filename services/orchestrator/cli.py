"""``trellis playbook check`` and ``trellis simulate``: try a playbook before it runs."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT, HANDRAISES
from services.orchestrator.adapters.nurture_file import default_nurture, load_nurture
from services.orchestrator.adapters.playbook_file import (
    PlaybookError,
    default_playbook,
    load_playbook,
)
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.playbook import EntryRule, Playbook
from services.orchestrator.domain.reminders import ReminderReason
from trellis.message_templates import (
    DEFAULT_TEMPLATES_DIR,
    Template,
    TemplateFileError,
    load_templates,
    template_problems,
)

T = TypeVar("T")

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


def template_problems_of(nurture: NurtureConfig, templates: Mapping[str, Template]) -> list[str]:
    """Every template the plan or a reminder rule can send exists and uses declared variables."""
    wanted = {
        step.template: f"{seq.id}/{step.id}" for seq in nurture.sequences for step in seq.steps
    }
    wanted |= {f"reminders/{r.value}": f"reminder rule {r.value}" for r in ReminderReason}
    problems = [
        f"{used_by}: template {tid!r} not found" for tid, used_by in wanted.items()
        if tid not in templates
    ]  # fmt: skip
    for tid in sorted(wanted.keys() & templates.keys()):
        problems += template_problems(tid, templates[tid], templates)
    return problems


def _or_exit(path: Path, load: Callable[[Path], T]) -> T:
    try:
        return load(path)
    except PlaybookError as exc:
        typer.secho(f"{path}: invalid", fg="red", err=True)
        for line in exc.errors:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1) from exc


@playbook_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    nurture: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Nurture plan (default: the shipped one)."),
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option(file_okay=False, help="Template directory (default: the shipped one)."),
    ] = None,
) -> None:
    """Validate a playbook, the nurture plan and every template it sends; print a summary."""
    playbook = _or_exit(file, load_playbook)
    plan = _or_exit(nurture, load_nurture) if nurture else default_nurture()
    try:
        found = load_templates(templates or DEFAULT_TEMPLATES_DIR)
    except TemplateFileError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    problems = template_problems_of(plan, found)
    if problems:
        typer.secho(f"{len(problems)} template problem(s):", fg="red", err=True)
        for line in problems:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: ok")
    for line in summary(playbook):
        typer.echo(line)
    steps = sum(len(s.steps) for s in plan.sequences)
    typer.echo(
        f"nurture: {len(plan.sequences)} sequences, {steps} steps; {len(found)} templates ok"
    )


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class Per(StrEnum):
    TOTALS = "totals"
    TOUCH = "touch"
    CONTACT = "contact"


ROW_FIELDS = ("plan", "contact", "touch_id", "sequence", "step", "channel", "template",
              "status", "reason", "at")  # fmt: skip


def _per_contact(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """One line per plan and contact: how many touches were sent, skipped, not planned."""
    out: dict[tuple[object, object], dict[str, object]] = {}
    for r in rows:
        line = out.setdefault((r["plan"], r["contact"]), {
            "plan": r["plan"], "contact": r["contact"], "sent": 0, "skipped": 0, "deferred": 0,
            "not_planned": 0, "planned": 0, "first_sent": None, "last_sent": None,
        })  # fmt: skip
        line[str(r["status"])] = int(str(line[str(r["status"])])) + 1
        if r["status"] == "sent":
            line["first_sent"] = line["first_sent"] or r["at"]
            line["last_sent"] = r["at"]
    return list(out.values())


def simulate_command(
    events: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="History as JSON lines.")
    ] = None,
    from_topic: Annotated[
        bool,
        typer.Option(
            "--from-topic", help="Read the history from the engagement topic (TRELLIS_KAFKA_*)."
        ),
    ] = False,
    playbook: Annotated[
        Path | None, typer.Option(dir_okay=False, help="The proposed playbook.yaml.")
    ] = None,
    current: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False, help="The playbook to compare with (default: the shipped one)."
        ),
    ] = None,
    nurture: Annotated[
        Path | None, typer.Option(dir_okay=False, help="The proposed nurture plan.")
    ] = None,
    current_nurture: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="The nurture plan to compare with (default: shipped)."),
    ] = None,
    horizon_days: Annotated[
        float, typer.Option(min=0, help="Also decide touches due this long after the last event.")
    ] = 30.0,
    output: Annotated[Format, typer.Option("--format", help="table, json or csv.")] = Format.TABLE,
    per: Annotated[
        Per,
        typer.Option(
            help="totals (a comparison), touch (every touch: what, when, and every 'no' with "
            "its reason) or contact; touch and contact need --format json or csv."
        ),
    ] = Per.TOTALS,
    skip_invalid: Annotated[
        bool, typer.Option(help="Skip invalid lines instead of failing.")
    ] = False,
) -> None:
    """Replay history through the live decision code and show what a playbook would change:
    stages, touches sent / skipped by reason / deferred, and rep reminders."""
    from services.orchestrator.simulate import HistoryError, compare_table, read_history, simulate

    if (events is None) == (not from_topic):
        typer.secho("give either --events FILE or --from-topic", fg="red", err=True)
        raise typer.Exit(2)
    if per is not Per.TOTALS and output is Format.TABLE:
        typer.secho("--per touch|contact needs --format json or csv", fg="red", err=True)
        raise typer.Exit(2)
    try:
        base = load_playbook(current) if current else default_playbook()
        proposed = load_playbook(playbook) if playbook else base
        base_plan = load_nurture(current_nurture) if current_nurture else default_nurture()
        proposed_plan = load_nurture(nurture) if nurture else base_plan
        history = read_history(events, skip_invalid) if events else _topic_history()
    except (PlaybookError, HistoryError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        for line in getattr(exc, "errors", []):
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(2) from exc
    results = []
    horizon = timedelta(days=horizon_days)
    for label, book, plan in (("current", base, base_plan), ("proposed", proposed, proposed_plan)):
        with typer.progressbar(length=len(history), label=f"{label:>8}", file=sys.stderr) as bar:
            results.append(
                simulate(history, book, progress=bar.update, nurture=plan, horizon=horizon)
            )
    if per is not Per.TOTALS:
        _print_rows(per, output, results)
        return
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


def _print_rows(per: Per, output: Format, results: list[Any]) -> None:
    lines: list[dict[str, object]] = [
        {"plan": label, **row}
        for label, result in zip(("current", "proposed"), results, strict=True)
        if result.touches is not None
        for row in result.touches.rows
    ]
    if per is Per.CONTACT:
        lines = _per_contact(lines)
    if output is Format.JSON:
        typer.echo(orjson.dumps(lines, option=orjson.OPT_INDENT_2).decode())
        return
    fields = ROW_FIELDS if per is Per.TOUCH else tuple(lines[0]) if lines else ("plan",)
    writer = csv.DictWriter(sys.stdout, fieldnames=list(fields))
    writer.writeheader()
    writer.writerows(lines)


def _topic_history() -> list[EngagementEvent]:
    import asyncio

    from services.orchestrator.adapters.history_topic import read_history_topic
    from trellis.settings import TrellisSettings

    settings = TrellisSettings()
    typer.echo(f"reading {ENGAGEMENT} and {HANDRAISES} from {settings.bootstrap_servers}", err=True)
    found = asyncio.run(read_history_topic(settings))
    if found.invalid:
        typer.echo(f"skipped {found.invalid} invalid message(s) on the topic", err=True)
    return found.events
