"""``dispatch-due-touches``: claim due touches, decide again, publish ``DispatchTouch``.

Each round is one transaction: claim a batch (see ``touch_store.claim_due``: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, one atomic claiming UPDATE on SQLite), lock the recipients' accounts
(``touch_store.lock_recipients``) so that instances sharing a database count caps one after
another, re-check every touch with ``check_eligibility`` against the state *now* (consent
ledger, caps over dispatched touches, quiet hours, stage still current), publish the allowed ones
with acks=all and mark them dispatched; the rest are skipped or deferred (new ``due_at`` =
``retry_at``), each with its reason in the decision log; commit.

Crash or publish failure before the commit: the claim is rolled back with everything else, and
the touch is claimed and published again by a later round. That is safe because ``touch_id`` is
the notifier's idempotency key: a touch is *sent* at most once even when its command is on the
topic twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.commands import Channel as WireChannel
from schemas.commands import DispatchTouch
from schemas.topics import TOUCHES
from services.orchestrator import reps
from services.orchestrator.adapters import consent_store, touch_store
from services.orchestrator.adapters import repository as repo
from services.orchestrator.adapters.tables import reminders
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.eligibility import (
    Allowed,
    PlannedTouch,
    Skipped,
    check_eligibility,
)
from services.orchestrator.domain.stages import Stage
from services.orchestrator.domain.touch_log import DispatchProblem, PlanReason, TouchDecision
from services.orchestrator.domain.touch_retry import origin_of
from services.orchestrator.nurture import Nurture, load_people, recipient_of, rep_for
from services.orchestrator.ops.links import ReminderLinks
from services.orchestrator.reminder_clock import reminder_of_step, tend_reminders
from trellis.kafka import encode
from trellis.logs import error_kind

log = logging.getLogger(__name__)
HISTORY = timedelta(days=31)


class Scheduler:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        nurture: Nurture,
        me: str,
        clock: Callable[[], datetime],
        batch: int = 500,
        links: ReminderLinks | None = None,
    ) -> None:
        self.engine, self.producer, self.nurture = engine, producer, nurture
        self.me, self.clock, self.batch = me, clock, batch
        self.links = links  # signed ack/snooze links in reminder messages
        self.dispatched = 0
        self.reminder_expiry = timedelta(days=nurture.config.reminder_expire_days)

    async def run(self, stop: asyncio.Event, interval_s: float, lock: asyncio.Lock) -> None:
        """A round every ``interval_s`` until ``stop``; ``lock`` keeps rounds and the consumer's
        batches of this process apart (SQLite has one writer; waiting on it costs more)."""
        while not stop.is_set():
            try:
                async with lock, self.engine.begin() as conn:
                    await tend_reminders(conn, self.clock(), self.reminder_expiry)
                while True:
                    async with lock:
                        if await self.dispatch_due() < self.batch:
                            break  # a full batch: more may be due
            except Exception as exc:  # the type chain only: a driver's text can quote an email
                log.error(
                    "dispatch-due-touches round failed (%s); retrying next round", error_kind(exc)
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    async def dispatch_due(self) -> int:
        """One round; returns how many touches it claimed."""
        now = self.clock()
        async with self.engine.begin() as conn:
            claimed = await touch_store.claim_due(conn, self.me, now, self.batch)
            if not claimed:
                return 0
            people, accs = await load_people(conn, {t["contact_id"] for t in claimed})
            await touch_store.lock_recipients(conn, _cap_keys(claimed, people))
            await self._decide_and_publish(conn, claimed, people, accs, now)
        return len(claimed)

    async def _decide_and_publish(
        self,
        conn: AsyncConnection,
        claimed: list[dict[str, Any]],
        people: dict[str, dict[str, Any]],
        accs: dict[str, dict[str, Any]],
        now: datetime,
    ) -> None:
        """Runs inside the claiming transaction, holding the recipients' locks: the caps are
        counted over what other instances committed before, and what this round dispatches
        is committed before the next instance counts (two instances never overrun a cap)."""
        cfg = self.nurture.config
        ledgers = await consent_store.load(conn, people)
        accounts = {p["account_id"] for p in people.values() if p["account_id"]}
        history = await touch_store.sent_history(conn, people, accounts, now - HISTORY)
        notes = await _reminder_rows(conn, claimed)
        assigned: list[dict[str, Any]] = []  # a reminder with nobody to go to: a pool rep owns it
        unowned = [
            row["contact_id"]
            for row in claimed
            if TouchChannel(row["channel"]).is_reminder
            and not (notes.get(row["id"]) or {}).get("rep")
        ]
        await reps.assign_owners(conn, people, accs, self.nurture.rep_pool, unowned, now, assigned)
        await repo.log_decisions(conn, assigned)
        sends: list[tuple[dict[str, Any], DispatchTouch]] = []
        results: list[tuple[dict[str, Any], str, str | None, datetime | None]] = []
        for row in claimed:
            person = people.get(row["contact_id"])
            account = accs.get((person or {}).get("account_id") or "")
            touch = _planned(row, cfg.sequence)
            channel = TouchChannel(row["channel"])
            to = (
                _address(channel, person, account, notes.get(row["id"]), self.nurture)
                if person
                else None
            )
            rep = to if channel.is_reminder else None  # whose working hours the window is
            who = recipient_of(person, account, cfg, rep) if person else None
            if who is None or touch is None:
                problem = (
                    DispatchProblem.UNKNOWN_CONTACT if who is None else DispatchProblem.UNKNOWN_STEP
                )
                results.append((row, touch_store.SKIPPED, problem, None))
                continue
            ledger = replace(ledgers[who.contact_id], bases=cfg.legal_basis)
            verdict = check_eligibility(touch, who, ledger, history, cfg, now)
            if isinstance(verdict, Skipped):
                status = touch_store.PLANNED if verdict.deferred else touch_store.SKIPPED
                results.append((row, status, verdict.reason.value, verdict.retry_at))
                continue
            assert isinstance(verdict, Allowed)
            if to is None:
                results.append((row, touch_store.SKIPPED, DispatchProblem.NO_ADDRESS, None))
                continue
            history.append(SentTouch(who.contact_id, who.account_id, touch.channel, now))
            sends.append(
                (row, _command(row, to, cfg.rep_channel, person or {}, account,
                               notes.get(row["id"]), now))
            )  # fmt: skip
        if self.links is not None:  # ack/snooze/contact/account links for the rep
            for row, cmd in sends:
                if (note := notes.get(row["id"])) is not None:
                    links = self.links.variables(
                        note["id"], row["contact_id"], row["account_id"], now
                    )
                    cmd.variables.update(links)
        await asyncio.gather(
            *[
                self.producer.send_and_wait(TOUCHES, encode(cmd), key=cmd.contact_id.encode())
                for _, cmd in sends
            ]
        )
        self.dispatched += len(sends)
        results += [(row, touch_store.DISPATCHED, PlanReason.ALLOWED, None) for row, _ in sends]
        for row, status, reason, retry_at in results:
            await touch_store.finish(
                conn, row["id"], self.me, status=status, reason=reason, now=now, due_at=retry_at
            )
        await repo.log_decisions(
            conn, [_log(r, s, why, at, now, cfg.version) for r, s, why, at in results]
        )


def _cap_keys(claimed: list[dict[str, Any]], people: dict[str, dict[str, Any]]) -> set[str]:
    """What the caps count per: the recipient's account (the account cap spans its people),
    else the contact."""
    keys = set()
    for row in claimed:
        account = (people.get(row["contact_id"]) or {}).get("account_id") or row["account_id"]
        keys.add(f"a:{account}" if account else f"c:{row['contact_id']}")
    return keys


def _planned(row: dict[str, Any], sequence_of: Callable[[str], Any]) -> PlannedTouch | None:
    seq_id, _, step_id = (row["sequence_step"] or "").partition("/")
    window = None
    if seq_id != "reminder":
        sequence = sequence_of(seq_id)
        step = next((s for s in sequence.steps if s.id == step_id), None) if sequence else None
        if step is None:
            return None
        window = step.window
    if row["stage"] not in Stage._value2member_map_:
        return None
    return PlannedTouch(
        touch_id=row["id"], contact_id=row["contact_id"], account_id=row["account_id"],
        sequence_id=seq_id, step_id=step_id, stage=Stage(row["stage"]),
        channel=TouchChannel(row["channel"]), template=row["template_id"], window=window,
        due_at=row["due_at"],
    )  # fmt: skip


async def _reminder_rows(conn: Any, claimed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """touch id -> its reminder: a reminder's first touch has the reminder's id (its retries
    that id plus ``~r<n>``), a touch made when a snooze ended names the reminder in its step."""
    reminder_of = {
        t["id"]: reminder_of_step(t["sequence_step"]) or origin_of(t["id"])[0] for t in claimed
    }
    rows = await conn.execute(
        select(reminders).where(reminders.c.id.in_(set(reminder_of.values())))
    )
    found = {r["id"]: dict(r) for r in rows.mappings()}
    return {tid: found[rid] for tid, rid in reminder_of.items() if rid in found}


def _address(
    channel: TouchChannel,
    person: dict[str, Any],
    account: dict[str, Any] | None,
    note: dict[str, Any] | None,
    nurture: Nurture,
) -> str | None:
    if channel.is_reminder:
        return (note or {}).get("rep") or rep_for(person, account, nurture.rep_pool)
    if channel is TouchChannel.SMS:
        phone = (person.get("traits") or {}).get("phone")
        return phone if isinstance(phone, str) else None
    return person.get("email")


def people_variables(
    person: dict[str, Any], account: dict[str, Any] | None, rep: str | None = None
) -> dict[str, Any]:
    """``contact``, ``account`` and ``rep`` as templates see them (template_files.VARIABLES);
    ``rep``: the one being reminded, else the owner."""
    traits = person.get("traits") or {}
    acc = account or {}
    acc_traits = acc.get("traits") or {}
    rep = rep or person.get("owner_rep") or acc.get("owner_rep") or ""
    return {
        "contact": {
            "first_name": traits.get("first_name"), "last_name": traits.get("last_name"),
            "name": traits.get("name"), "email": person.get("email"),
            "title": traits.get("title"), "role": person.get("role"),
        },
        "account": {
            "name": acc.get("name") or acc_traits.get("name"), "domain": acc.get("domain"),
            "industry": acc_traits.get("industry"), "region": acc_traits.get("region"),
        },
        "rep": {"email": rep, "name": rep.split("@")[0].replace(".", " ").title() if rep else ""},
    }  # fmt: skip


def _command(
    row: dict[str, Any],
    to: str,
    channel_of_rep: Callable[[str], str | None],
    person: dict[str, Any],
    account: dict[str, Any] | None,
    note: dict[str, Any] | None,
    now: datetime,
) -> DispatchTouch:
    channel = TouchChannel(row["channel"])
    rep = to if channel.is_reminder else None
    variables: dict[str, Any] = {"stage": row["stage"], **people_variables(person, account, rep)}
    if rep and (via := channel_of_rep(rep)):
        variables["rep_channel"] = via  # the notifier's RepReminderRouter honours it
    if note is not None:
        variables |= {
            "reason": note["reason"],
            "evidence": note["evidence"],
            "talking_points": note["talking_points"],
            "reminder_id": note["id"],
        }
    return DispatchTouch(
        touch_id=row["id"], contact_id=row["contact_id"], account_id=row["account_id"],
        channel=WireChannel(channel.value), template_id=row["template_id"], stage=row["stage"],
        to=to, variables=variables, marketing=not channel.is_reminder, decided_at=now,
    )  # fmt: skip


def _log(
    row: dict[str, Any], status: str, reason: str | None, retry_at: datetime | None,
    now: datetime, version: str,
) -> dict[str, Any]:  # fmt: skip
    kind = {
        touch_store.DISPATCHED: TouchDecision.TOUCH_DISPATCHED,
        touch_store.SKIPPED: TouchDecision.TOUCH_SKIPPED,
    }.get(status, TouchDecision.TOUCH_DEFERRED)
    facts: dict[str, Any] = {"channel": row["channel"], "due_at": row["due_at"].isoformat()}
    if retry_at is not None:
        facts["retry_at"] = retry_at.isoformat()
    return {
        "contact_id": row["contact_id"], "account_id": row["account_id"], "touch_id": row["id"],
        "kind": kind.value, "reason": reason or "", "facts": facts, "event_id": None,
        "playbook_version": version or "nurture", "decided_at": now,
    }  # fmt: skip
