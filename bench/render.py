"""Rendering cost per message, templates compiled once (the notifier's ``JinjaRenderer``)
against a baseline that compiles them for every message (a new renderer each time).

    python -m bench render [--messages N] [--runs R]

Renders a rep reminder (subject, text and HTML, each including the shared ``reminders/_story``
part) and a marketing email; prints the median microseconds per message over the runs and the
ratio to the baseline measured in the same run; writes bench/results/render.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.commands import DispatchTouch
from services.notifier.render import JinjaRenderer
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.touch_commands import command
from trellis.message_templates import DEFAULT_TEMPLATES_DIR, load_templates

RESULTS = Path(__file__).parent / "results"
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def reminder() -> DispatchTouch:
    person = ContactView(
        id="c_1", account_id="a_1", email="ivan@globex.example", stage="sql", role="finance",
        timezone="Europe/Berlin", traits={"first_name": "Ivan", "last_name": "Petrov"},
    )  # fmt: skip
    account = AccountView(id="a_1", stage="mql", name="Globex", domain="globex.example")
    note = ReminderNote(
        id="r_1", rep="dana@x.example", reason="demo_requested", talking_points=["Book a slot"],
        evidence=[{"said": "requested a demo", "at": (NOW - timedelta(minutes=4)).isoformat()}],
        created_at=NOW,
    )  # fmt: skip
    row = StoredTouch(
        id="r_1", contact_id="c_1", account_id="a_1", channel="rep_call_reminder",
        template_id="reminders/demo_requested", stage="sql",
        sequence_step="reminder/demo_requested", due_at=NOW,
    )  # fmt: skip
    return command(row, "dana@x.example", lambda _: None, person, account, note, NOW)


def marketing() -> DispatchTouch:
    templates = load_templates(DEFAULT_TEMPLATES_DIR)
    template_id = next(t for t in sorted(templates) if t.startswith("engaged/"))
    return DispatchTouch(
        touch_id="t_1", contact_id="c_1", account_id="a_1", channel="email",
        template_id=template_id, stage="engaged", to="ivan@globex.example",
        variables={"contact": {"first_name": "Ivan"}, "account": {"name": "Globex"}},
        decided_at=NOW,
    )  # fmt: skip


def per_message_us(touch: DispatchTouch, messages: int, cached: bool) -> float:
    templates = load_templates(DEFAULT_TEMPLATES_DIR)
    renderer = JinjaRenderer(templates)
    start = time.perf_counter()
    for _ in range(messages):
        if not cached:
            renderer = JinjaRenderer(templates)  # the baseline: compiled again per message
        renderer.render_touch(touch)
    return (time.perf_counter() - start) / messages * 1e6


def cli(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench render")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args(args)
    figures = {}
    for kind, touch in (("rep reminder", reminder()), ("marketing email", marketing())):
        for cached in (False, True):
            runs = [per_message_us(touch, opts.messages, cached) for _ in range(opts.runs)]
            name = f"{kind}, {'compiled once' if cached else 'compiled per message'}"
            figures[name] = statistics.median(runs)
            print(f"{name:<44} {figures[name]:>9,.1f} µs/message  (runs: "
                  + ", ".join(f"{r:,.1f}" for r in runs) + ")")  # fmt: skip
        once = figures[f"{kind}, compiled once"]
        every = figures[f"{kind}, compiled per message"]
        print(f"{kind}: compiled once is {once / every:.1%} of the baseline ({every / once:.0f}x)")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "render.json"
    out.write_text(json.dumps({"messages": opts.messages, "runs": opts.runs,
                               "median_us_per_message": figures}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {out}")
