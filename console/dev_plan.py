"""A rep out of the box: the nurture plan and rep settings ``trellis dev`` runs with.

The shipped plan has no rep, so on a fresh stack a demo request reminded nobody
(``touch_skipped NO_REP``). In dev, a pool rep (``dev-rep@trellis.example``) owns every account
nobody else owns; its reminders go by email to the dev outbox and show in its dashboard inbox.
The plan written to ``data_dir/dev-nurture.yaml`` is the shipped one plus a rep directory (the
dev rep, and the demo world's two reps in America/Los_Angeles and Asia/Kolkata) and one change:
a call-now reminder (a demo or contact-sales request) goes out at any hour, so a developer sees
it at once; email reminders still wait for the rep's working hours in the rep's zone. And two
sequences hold half their people out (``DEMO_HOLDOUTS``), so ``trellis demo`` shows lift. Settings
the developer set (``TRELLIS_NURTURE``, ``TRELLIS_ORCHESTRATOR_REP_POOL``) are left alone.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from services.orchestrator.adapters.nurture_file import parse_nurture
from trellis.demo_world import DEMO_HOLDOUTS, DEMO_REPS

DEV_REP = "dev-rep@trellis.example"
DEV_REP_DOMAIN = "trellis.example"
ANY_TIME = "dev_any_time"


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
    for sequence in plan["sequences"]:  # holdouts large enough for `trellis demo` to measure
        if sequence["id"] in DEMO_HOLDOUTS:
            sequence["holdout"] = DEMO_HOLDOUTS[sequence["id"]]
    return plan


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
