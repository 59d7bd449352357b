"""Whom the running stack's plan holds out, for ``trellis demo``: the demo world puts nurture's
lift into its events (``trellis.demo_world.STALLS``) only for people the plan really held out,
so the dashboard's lift chart finds it. ``trellis/`` may not import a service; the console may.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from console.dev_plan import dev_plan
from services.orchestrator.adapters.nurture_file import load_nurture, parse_nurture
from services.orchestrator.domain.holdout import held_out, holdout_unit
from services.orchestrator.domain.identity import stable_id
from services.orchestrator.domain.nurture_config import NurtureConfig
from trellis.demo_world import HeldOut


def stack_plan() -> NurtureConfig:
    """``TRELLIS_NURTURE`` if set, else the plan ``trellis dev`` writes (the demo's holdouts)."""
    chosen = os.environ.get("TRELLIS_NURTURE")
    if chosen:
        return load_nurture(Path(chosen))
    return parse_nurture(yaml.safe_dump(dev_plan()).encode())


def plan_held_out(plan: NurtureConfig) -> HeldOut:
    """``held_out(contact external id, sequence id)`` as the orchestrator decides it: the contact
    id it derives from the external id (``identity.stable_id``) and the plan's holdout."""

    def held(external_id: str, sequence_id: str) -> bool:
        sequence = plan.sequence(sequence_id)
        if sequence is None:
            return False
        contact = stable_id("c_", "ext:" + external_id)
        account = external_id.rsplit("-u", 1)[0]  # the demo's people are <account>-u<n>
        unit = holdout_unit(plan.holdout_by, contact, stable_id("a_", "ext:" + account))
        return held_out(plan.holdout_share(sequence), unit, sequence_id)

    return held
