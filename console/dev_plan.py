"""A rep out of the box: the nurture plan and rep settings ``trellis dev`` runs with.

The shipped plan has no rep, so on a fresh stack a demo request reminded nobody
(``touch_skipped NO_REP``). In dev, a pool rep (``dev-rep@trellis.example``) owns every account
nobody else owns; its reminders go by email to the dev outbox and show in its dashboard inbox.
The plan written to ``data_dir/dev-nurture.yaml`` is the shipped one plus a rep directory (the
dev rep, and the demo world's two reps in America/Los_Angeles and Asia/Kolkata) and one change:
a call-now reminder (a demo or contact-sales request) goes out at any hour, so a developer sees
it at once; email reminders still wait for the rep's working hours in the rep's zone. And two
sequences hold half their people out (``DEMO_HOLDOUTS``), so ``trellis demo`` shows lift. A sales
team (the demo's reps) and a success team (its CSMs) own their stages, so the demo's accounts are
handed over with SLA clocks of minutes and the dashboard's handoff board shows breaches. Settings
the developer set (``TRELLIS_NURTURE``, ``TRELLIS_ORCHESTRATOR_REP_POOL``) are left alone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from services.orchestrator.adapters.nurture_file import parse_nurture
from trellis.demo_world import DEMO_CSMS, DEMO_HOLDOUTS, DEMO_REPS, DemoRep

DEV_REP = "dev-rep@trellis.example"
DEV_REP_DOMAIN = "trellis.example"
ANY_TIME = "dev_any_time"
DEMO_SLA_HOURS = {"mql_accept": 0.1, "sql_first_contact": 0.05, "csm_kickoff": 0.1}
"""Handoff deadlines in dev (6, 3 and 6 minutes, escalated 3 minutes later): the demo's
accounts are handed over as it streams them, and nobody in a demo books the meeting or holds the
kickoff, so the handoff board shows breaches and escalations within minutes, not days."""


def dev_plan() -> dict[str, Any]:
    """The shipped nurture plan with the dev rep directory and call-now at any hour."""
    shipped = resources.files("services.orchestrator").joinpath("default_nurture.yaml")
    plan: dict[str, Any] = yaml.safe_load(shipped.read_bytes())
    plan["reps"] = {
        DEV_REP: {"channel": "email"},
        **{
            rep.email: {"timezone": rep.timezone, "crm_id": rep.crm_id, "channel": "email"}
            for rep in DEMO_REPS
        },
    }
    plan["windows"] = {**plan["windows"], ANY_TIME: {}}  # every day, all day
    plan["channel_windows"] = {**plan["channel_windows"], "rep_call_reminder": ANY_TIME}
    plan["teams"] = {"sales": team(DEMO_REPS), "success": team(DEMO_CSMS)}  # handoffs
    plan["handoffs"] = {  # SLAs in minutes (the call-now window: the clock never stops)
        kind: {**sla, "business_days": 0, "business_hours": hours, "escalate_after_hours": 0.05}
        for kind, sla in plan["handoffs"].items()
        if (hours := DEMO_SLA_HOURS.get(kind)) is not None
    }
    for sequence in plan["sequences"]:  # holdouts large enough for `trellis demo` to measure
        if sequence["id"] in DEMO_HOLDOUTS:
            sequence["holdout"] = DEMO_HOLDOUTS[sequence["id"]]
    return plan


def team(people: tuple[DemoRep, ...]) -> dict[str, Any]:
    """A team of the demo's people, the first its lead (an escalation goes to them)."""
    members = {p.email: {"timezone": p.timezone, "crm_id": p.crm_id, "channel": "email"}
               for p in people}  # fmt: skip
    return {"lead": people[0].email, "members": members}


def write_dev_plan(data_dir: Path) -> Path:
    """``data_dir/dev-nurture.yaml``, written anew on each start (shipped changes flow in);
    checked here so a broken plan stops ``trellis dev`` before any service starts."""
    text = yaml.safe_dump(dev_plan(), sort_keys=False, allow_unicode=True)
    content = (
        "# Written by `trellis dev` on each start (console/dev_plan.py): the shipped plan, a rep\n"
        "# directory and call-now reminders at any hour. Set TRELLIS_NURTURE to use your own.\n"
        + text
    ).encode()
    parse_nurture(content)
    path = data_dir / "dev-nurture.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def configure_dev_rep(env: dict[str, str], data_dir: Path) -> list[str]:
    """Point ``env`` at the dev plan and pool unless the developer chose; lines to print."""
    said = []
    # ``trellis demo``'s CRM names owners at this domain: locally they are reps.
    env.setdefault("TRELLIS_REP_DOMAINS", DEV_REP_DOMAIN)
    if "TRELLIS_NURTURE" not in env:
        env["TRELLIS_NURTURE"] = str(write_dev_plan(data_dir))
        said.append(f"nurture plan {env['TRELLIS_NURTURE']} (call-now reminders at any hour)")
    if "TRELLIS_ORCHESTRATOR_REP_POOL" not in env:
        env["TRELLIS_ORCHESTRATOR_REP_POOL"] = DEV_REP
        said.append(
            "the dev rep (the pool; README: a rep out of the box) owns every account "
            "without a CRM owner"
        )  # no address: logs carry none (tests/pii.py)
    return said
