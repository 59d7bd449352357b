"""CPU of the pure fold: identity resolution and ``decide`` over the orchestrator bench's world.

    python -m bench.orchestrator_fold [--events N] [--contacts K] [--batch B] [--repeats R]

No broker, no database: ``bench.orchestrator.world``'s events, decoded once, go in batches
through ``resolve_contacts`` / ``resolve_accounts`` and ``decide``, each batch's states kept
for the next as the orchestrator's state cache keeps them, the collector tuned as the
orchestrator tunes it (``--no-gc``: disabled). Prints the median CPU per event
(``time.process_time``) of each part over the repeats, and a digest of every decision so two
checkouts can be compared for equal results.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from bench.orchestrator import world
from schemas.events import EngagementEvent
from services.orchestrator.adapters.playbook_file import default_playbook
from services.orchestrator.domain.decide import decide
from services.orchestrator.domain.engagement import Engagement, to_engagement
from services.orchestrator.domain.identity import (
    account_refs,
    contact_aliases,
    resolve_accounts,
    resolve_contacts,
)
from services.orchestrator.domain.playbook import Playbook
from services.orchestrator.domain.state import AccountState, ContactState, Decision
from trellis.collector import tune_gc

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@dataclass
class Run:
    identity: float  # CPU seconds
    decide: float
    digest: str


def _digest(decision: Decision, into: hashlib._Hash) -> None:
    for key in sorted(decision.contacts):
        c = decision.contacts[key]
        into.update(repr((c.key, c.account_key, c.checkpoint, list(c.pending), c.current)).encode())
        into.update(repr((c.transitions, c.score, c.playbook_version)).encode())
    for key in sorted(decision.accounts):
        into.update(repr(decision.accounts[key]).encode())
    into.update(repr((decision.transitions, decision.log, decision.redated)).encode())


def one_run(batches: Sequence[Sequence[EngagementEvent]], playbook: Playbook) -> Run:
    aliases: dict[str, str] = {}
    known_accounts: dict[str, tuple[str, str | None, str | None]] = {}
    by_ref: dict[str, str] = {}  # an account's external id or domain -> its id
    contacts: dict[str, ContactState] = {}
    accounts: dict[str, AccountState] = {}
    identity = deciding = 0.0
    digest = hashlib.sha256()
    for batch in batches:
        started = time.process_time()
        names = [a for e in batch for a in contact_aliases(e)]
        refs = [account_refs(e) for e in batch]
        res = resolve_contacts(batch, {a: aliases[a] for a in names if a in aliases})
        exts = {x for x, _ in refs if x}
        doms = {d for _, d in refs if d}
        stored = [known_accounts[by_ref[r]] for r in sorted(exts | doms) if r in by_ref]
        acc = resolve_accounts(batch, stored)
        identity += time.process_time() - started
        aliases.update(res.new_aliases)
        for aid, claim in acc.claims.items():
            _, ext, dom = known_accounts.get(aid, (aid, None, None))
            known_accounts[aid] = (aid, claim.get("external_id", ext), claim.get("domain", dom))
            by_ref.update(dict.fromkeys([r for r in known_accounts[aid][1:] if r], aid))
        engagements: list[Engagement] = [
            to_engagement(e, res.contact_of[e.id], acc.account_of[e.id]) for e in batch
        ]
        mine = {k: contacts[k] for k in set(res.contact_of.values()) if k in contacts}
        touched = {a for a in acc.account_of.values() if a} | {
            s.account_key for s in mine.values() if s.account_key
        }
        theirs = {k: accounts[k] for k in touched if k in accounts}
        started = time.process_time()
        decision = decide(mine, theirs, engagements, playbook, NOW)
        deciding += time.process_time() - started
        contacts.update(decision.contacts)
        accounts.update(decision.accounts)
        _digest(decision, digest)
    return Run(identity, deciding, digest.hexdigest()[:16])


def _regroup(raw: bytes, members: int) -> bytes:
    """The event with its contact's account holding ``members`` stakeholders (the world's 5)."""
    event = orjson.loads(raw)
    c = int(event["contact"]["external_id"].removeprefix("u-"))
    event["account"] = {"external_id": f"acc-{c // members}", "domain": f"co{c // members}.example"}
    event["contact"]["email"] = f"p{c}@co{c // members}.example"
    return orjson.dumps(event)


def main(
    events: int, contacts: int, batch: int, repeats: int, collect: bool, members: int = 5
) -> None:
    raw = world(events, contacts)
    if members != 5:
        raw = [_regroup(r, members) for r in raw]
    decoded = [EngagementEvent.model_validate_json(r) for r in raw]
    batches = [decoded[i : i + batch] for i in range(0, len(decoded), batch)]
    playbook = default_playbook()
    if collect:  # as the orchestrator runs: its start-up frozen, young collections rarer
        tune_gc()
    else:  # the fold's own CPU, without the collector's passes over the heap
        gc.disable()
    runs = [one_run(batches, playbook) for _ in range(repeats)]
    gc.enable()
    per = 1e6 / len(decoded)
    ident = statistics.median(r.identity for r in runs) * per
    dec = statistics.median(r.decide for r in runs) * per
    print(
        f"events {len(decoded)}, contacts {contacts}, members/account {members}, batch {batch}, "
        f"repeats {repeats}, "
        f"gc {'as the orchestrator tunes it' if collect else 'off'}"
    )
    print(f"CPU us/event identity {ident:.1f}  decide {dec:.1f}  total {ident + dec:.1f}")
    print(f"decide per run (us/event): {[round(r.decide * per, 1) for r in runs]}")
    print(f"digest {sorted({r.digest for r in runs})}")


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestrator_fold")
    parser.add_argument("--events", type=int, default=15000)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--members", type=int, default=5, help="stakeholders per account")
    parser.add_argument("--no-gc", action="store_true", help="measure with gc disabled")
    args = parser.parse_args(argv)
    main(args.events, args.contacts, args.batch, args.repeats, not args.no_gc, args.members)


if __name__ == "__main__":
    cli()
