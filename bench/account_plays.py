"""What account plays (the pause and the committee gaps, issue 17) cost the engagement handler.

    python -m bench account_plays [--accounts N] [--batch B] [--repeats R]

N accounts of four stakeholders each (manager, technical, user, finance), opted in to email,
engage over ten days; the manager of every other account books a meeting on day 6 (a pause),
and accounts reach MQL with their finance person only browsing (a gap). The history goes
through ``handle_engagement`` on a fresh migrated SQLite database per run in batches of B
events, in the same run with: the plays off (the baseline:
no pausing events, no wanted roles), the pause only, and both (the shipped plan). Prints the
median events/s and the ratio to the baseline; writes ``bench/results/account_plays.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from schemas.events import EngagementEvent
from services.orchestrator.adapters.nurture_file import default_nurture
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.application.engagement import handle_engagement
from services.orchestrator.application.unit_of_work import InboxEntry
from services.orchestrator.domain.nurture_config import AccountPause
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.people import Nurture
from trellis.db import create_engine
from trellis.migrate import upgrade_async

RESULTS = Path(__file__).parent / "results" / "account_plays.json"
D0 = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)  # a Monday
ROLES = ("manager", "technical", "user", "finance")


def history(accounts: int) -> list[EngagementEvent]:
    out: list[dict[str, Any]] = []

    def e(a: int, role: str, day: float, kind: str, **props: Any) -> None:
        out.append({
            "id": f"e{len(out)}", "type": kind, "source": "bench",
            "time": (D0 + timedelta(days=day, minutes=a % 60)).isoformat(),
            "contact": {"external_id": f"a{a}-{role}", "email": f"{role}@a{a}.example",
                        "traits": {"role": role, "timezone": "UTC"}},
            "account": {"external_id": f"a{a}", "domain": f"a{a}.example",
                        "traits": {"industry": "software", "employees": 400, "region": "na"}},
            "properties": props,
        })  # fmt: skip

    for a in range(accounts):
        for role in ROLES:
            e(a, role, 0, "page_viewed", path="/blog")
            e(a, role, 0.1, "consent_given", channel="email", method="form", form="signup")
        e(a, "technical", 1, "content_downloaded", content_id="g", content_type="guide")
        e(a, "technical", 1.2, "form_submitted", form="trial")
        e(a, "manager", 2, "webinar_attended", webinar_id="w")
        e(a, "manager", 3, "page_viewed", path="/pricing", is_pricing=True)
        e(a, "manager", 4, "content_downloaded", content_id="c", content_type="case_study")
        if a % 2 == 0:
            e(a, "manager", 6, "meeting_booked", meeting_id=f"m{a}")
        e(a, "user", 8, "page_viewed", path="/blog/more")
        e(a, "user", 9, "content_downloaded", content_id="d", content_type="ebook")
    out.sort(key=lambda x: (x["time"], x["id"]))
    return [EngagementEvent.model_validate(x) for x in out]


async def feed(url: str, events: list[EngagementEvent], batch: int, plan: Nurture,
               playbook: Playbook) -> float:  # fmt: skip
    """Seconds to apply the whole history on a fresh database (migration not timed)."""
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        start = time.perf_counter()
        for k in range(0, len(events), batch):
            chunk = events[k : k + batch]
            received = [(InboxEntry(x.id, "b", 0, k + i), x) for i, x in enumerate(chunk)]
            async with SqlUnitOfWork.begin(engine) as uow:
                await handle_engagement(uow, received, playbook, chunk[-1].time, plan)
        return time.perf_counter() - start
    finally:
        await engine.dispose()


async def main(accounts: int, batch: int, repeats: int) -> None:
    events = history(accounts)
    full = default_playbook()
    no_gaps = full.model_copy(
        update={"accounts": full.accounts.model_copy(update={"wanted_roles": {}})}
    )
    shipped = default_nurture()
    no_pause = shipped.model_copy(update={"account_pause": AccountPause()})
    pool, domains = ("pool@reps.example",), ("reps.example",)
    variants = {
        "plays off (baseline)": (Nurture(no_pause, pool, domains), no_gaps),
        "pause on": (Nurture(shipped, pool, domains), no_gaps),
        "pause and committee gaps on": (Nurture(shipped, pool, domains), full),
    }
    runs: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for v, (name, (plan, playbook)) in enumerate(variants.items()):  # interleaved
                db = f"sqlite+aiosqlite:///{Path(tmp) / f'{r}-{v}.db'}"
                runs[name].append(len(events) / await feed(db, events, batch, plan, playbook))
    base = statistics.median(runs["plays off (baseline)"])
    print(f"handle_engagement, {accounts:,} accounts, {len(events):,} events, batches of "
          f"{batch} (sqlite):")  # fmt: skip
    out = {}
    for name, rates in runs.items():
        med = statistics.median(rates)
        print(f"  {name:<30} {med:>9,.0f} events/s  (min {min(rates):,.0f} max "
              f"{max(rates):,.0f})  ratio {med / base:5.1%} of the baseline")  # fmt: skip
        out[name] = {"median_events_per_s": round(med, 1), "runs": [round(x, 1) for x in rates],
                     "ratio_to_baseline": round(med / base, 3)}  # fmt: skip
    RESULTS.write_bytes(orjson.dumps({"accounts": accounts, "events": len(events),
                                      "batch": batch, "database": "sqlite", "figures": out},
                                     option=orjson.OPT_INDENT_2))  # fmt: skip


def cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench account_plays")
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    asyncio.run(main(args.accounts, args.batch, args.repeats))
