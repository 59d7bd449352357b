"""Encode + decode cost of a contact's stored state: the old JSON object form against the compact
positional form (``adapters/state_codec.py``, its window decoded only when read), on the states
the orchestrator bench's world leaves (and on states with a full lateness window), in the same
run.

``python -m bench.state_codec [--events 50000] [--contacts 10000]``: medians of 7 rounds, in µs
per state, and the ratio old/new; writes ``bench/results/state_codec.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.adapters.state_codec import decode_contact, encode_contact, object_json
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement
from services.orchestrator.domain.state import AccountState, ContactState

KINDS: list[tuple[str, dict[str, object]]] = [
    ("page_viewed", {"path": "/blog/x", "is_pricing": False}),
    ("page_viewed", {"path": "/pricing", "is_pricing": True}),
    ("content_downloaded", {"asset": "a", "content_type": "ebook"}),
    ("webinar_registered", {"webinar": "w"}),
    ("webinar_attended", {"webinar": "w"}),
    ("email_opened", {}),
    ("email_clicked", {}),
]
T0 = datetime(2026, 10, 1, tzinfo=UTC)
ROUNDS = 7


def states(events: int, contacts: int, minutes_apart: float = 1.0) -> list[ContactState]:
    """The contacts' states after the orchestrator bench's world (event i at T0 + i minutes)."""
    rnd, playbook = random.Random(7), default_playbook()
    known: dict[str, ContactState] = {}
    firms: dict[str, AccountState] = {}
    batch: list[Engagement] = []
    now = T0 + timedelta(minutes=events * minutes_apart)
    for i in range(events):
        c = rnd.randrange(contacts)
        kind, props = KINDS[rnd.randrange(len(KINDS))]
        batch.append(
            Engagement(
                event_id=f"bench-{i}",
                type=kind,
                occurred_at=T0 + timedelta(minutes=i * minutes_apart),
                properties=dict(props),
                contact_key=f"ext:u-{c}",
                account_key=f"ext:acc-{c // 5}",
                contact_traits={"role": ["technical", "finance", "executive"][c % 3]},
            )
        )
        if len(batch) == 500 or i == events - 1:
            d = decide(known, firms, batch, playbook, now)
            known |= d.contacts
            firms |= d.accounts
            batch = []
    return list(known.values())


def per_state(run: Callable[[], object], count: int) -> float:
    """Median µs per state over ROUNDS rounds of ``run`` (which handles ``count`` states)."""
    times = []
    gc.collect()
    gc.disable()  # as timeit does: the collector's passes over the heap are not the codec's
    try:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) / count * 1e6)
    finally:
        gc.enable()
    return statistics.median(times)


def compare(label: str, sample: Sequence[ContactState]) -> dict[str, Any]:
    old = [object_json(s).decode() for s in sample]  # the stored text, as state_json was
    new = [encode_contact(s).decode() for s in sample]  # as state_json now is
    assert [decode_contact(b) for b in new] == list(sample), "the compact form round-trips"
    n = len(sample)
    unread = [decode_contact(b) for b in new]
    figures = {
        "states": n,
        "pending_per_state": round(sum(len(s.pending) for s in sample) / n, 2),
        "bytes_old": round(sum(len(t) for t in old) / n),
        "bytes_new": round(sum(len(b) for b in new) / n),
        "encode_old_us": per_state(lambda: [object_json(s).decode() for s in sample], n),
        # a state kept in memory between batches: its window's lines, once written, are kept
        "encode_new_us": per_state(lambda: [encode_contact(s).decode() for s in sample], n),
        "decode_old_us": per_state(
            lambda: [ContactState.from_dict(orjson.loads(t)) for t in old], n
        ),
        "decode_new_us": per_state(lambda: [decode_contact(b) for b in new], n),
        "encode_new_window_unread_us": per_state(
            lambda: [encode_contact(s) for s in unread], n
        ),  # states read from storage whose window nobody read: items written back as read
        "decode_new_whole_window_us": per_state(
            lambda: [tuple(decode_contact(b).pending) for b in new], n
        ),  # as a late event needs it: every window event decoded
    }
    both_old = figures["encode_old_us"] + figures["decode_old_us"]
    both_new = figures["encode_new_us"] + figures["decode_new_us"]
    figures["encode_decode_old_us"], figures["encode_decode_new_us"] = both_old, both_new
    figures["ratio_old_over_new"] = round(both_old / both_new, 2)
    print(
        f"{label}: {n:,} states, {figures['pending_per_state']} pending each, "
        f"{figures['bytes_old']} -> {figures['bytes_new']} bytes\n"
        f"  encode {figures['encode_old_us']:.1f} -> {figures['encode_new_us']:.1f} µs, "
        f"decode {figures['decode_old_us']:.1f} -> {figures['decode_new_us']:.1f} µs, "
        f"encode+decode {both_old:.1f} -> {both_new:.1f} µs per state "
        f"({figures['ratio_old_over_new']:.2f}x); decoding the whole window too "
        f"{figures['decode_new_whole_window_us']:.1f} µs, encoding with the window unread "
        f"{figures['encode_new_window_unread_us']:.1f} µs"
    )
    return figures


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.state_codec", description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=10_000)
    args = parser.parse_args(argv)
    results = {
        "bench_world": compare("orchestrator bench world", states(args.events, args.contacts)),
        "busy_contacts": compare(
            "busy contacts (a full 30-day window)", states(args.events, 500, minutes_apart=0.8)
        ),
    }
    out = Path(__file__).parent / "results" / "state_codec.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    cli()
