"""``trellis demo``'s world carries nurture's lift where the stack's plan measures it: champions
held out of ``mql-proof`` stall at mql, those held out of ``engaged-technical`` do not."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from console.demo_lift import plan_held_out
from console.dev_plan import dev_plan
from services.orchestrator.adapters.nurture_file import parse_nurture
from trellis.demo_world import FLAT, LIFTED, build_world

START = datetime(2026, 9, 1, tzinfo=UTC)
PLAN = parse_nurture(yaml.safe_dump(dev_plan()).encode())


def _rates(sequence: str, reached: str, next_: str) -> tuple[float, float]:
    """Among champions who reached ``reached`` (an event type), the share that went on to
    ``next_``, treated and held out of ``sequence``."""
    held = plan_held_out(PLAN)
    world = build_world(600, seed=11, start=START, held_out=held)
    did: dict[str, set[str]] = {}
    for e in world:
        if e["contact"]["external_id"].endswith("-u0"):
            kind = e["type"] + (":" + e["properties"].get("content_type", ""))
            did.setdefault(e["contact"]["external_id"], set()).add(kind)
    arms: dict[bool, list[bool]] = {True: [], False: []}
    for person, kinds in did.items():
        if reached in kinds:
            arms[held(person, sequence)].append(next_ in kinds)
    return sum(arms[False]) / len(arms[False]), sum(arms[True]) / len(arms[True])


def test_champions_held_out_of_the_lifting_sequence_stall_and_of_the_flat_one_do_not() -> None:
    treated, held = _rates(LIFTED, "content_downloaded:case_study", "demo_requested:")
    assert treated - held > 0.25
    treated, held = _rates(FLAT, "webinar_attended:", "content_downloaded:case_study")
    assert abs(treated - held) < 0.1


def test_without_holdouts_the_world_is_the_one_it_always_was() -> None:
    plain = build_world(40, seed=1, start=START)
    assert build_world(40, seed=1, start=START, held_out=lambda _c, _s: False) == plain
    deals = [e["properties"] for e in plain if e["type"] == "deal_created"]
    assert deals and all(d["currency"] in ("EUR", "USD") for d in deals)
