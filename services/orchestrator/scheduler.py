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
from typing import assert_never

from aiokafka import AIOKafkaProducer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.commands import DispatchTouch
from services.orchestrator import reps
from services.orchestrator.adapters import consent_store, decision_log, touch_store
from services.orchestrator.adapters.tables import reminders
from services.orchestrator.domain.caps import SentTouch
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.planner import Defer, Send, Skip, decide_due
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.touch_log import PlanReason
from services.orchestrator.domain.touch_retry import origin_of
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote, StoredTouch
from services.orchestrator.nurture import Nurture, load_people, recipient_of
from services.orchestrator.ops.links import ReminderLinks
from services.orchestrator.reminder_clock import reminder_of_step, tend_reminders
from services.orchestrator.touch_commands import (
    address,
    command,
    decision_of,
    planned_touch,
    topic_for,
)
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
            people, accs = await load_people(conn, {t.contact_id for t in claimed})
            await touch_store.lock_recipients(conn, _cap_keys(claimed, people))
            await self._decide_and_publish(conn, claimed, people, accs, now)
        return len(claimed)

    async def _decide_and_publish(
        self,
        conn: AsyncConnection,
        claimed: list[StoredTouch],
        people: dict[str, ContactView],
        accs: dict[str, AccountView],
        now: datetime,
    ) -> None:
        """Runs inside the claiming transaction, holding the recipients' locks: the caps are
        counted over what other instances committed before, and what this round dispatches
        is committed before the next instance counts (two instances never overrun a cap)."""
        cfg = self.nurture.config
        ledgers = await consent_store.load(conn, people)
        accounts = {p.account_id for p in people.values() if p.account_id}
        history = await touch_store.sent_history(conn, people, accounts, now - HISTORY)
        notes = await _reminder_notes(conn, claimed)
        assigned: list[DecisionRecord] = []  # a reminder with nobody to go to: a pool rep owns it
        unowned = [
            t.contact_id
            for t in claimed
            if TouchChannel(t.channel).is_reminder and not _rep_of(notes.get(t.id))
        ]
        await reps.assign_owners(conn, people, accs, self.nurture.rep_pool, unowned, now, assigned)
        await decision_log.log_decisions(conn, assigned)
        sends: list[tuple[StoredTouch, DispatchTouch]] = []
        results: list[tuple[StoredTouch, str, str | None, datetime | None]] = []
        for row in claimed:
            person = people.get(row.contact_id)
            account = accs.get(person.account_id or "") if person else None
            touch = planned_touch(row, cfg.sequence)
            channel = TouchChannel(row.channel)
            note = notes.get(row.id)
            to = address(channel, person, account, note, self.nurture) if person else None
            rep = to if channel.is_reminder else None  # whose working hours the window is
            who = recipient_of(person, account, cfg, rep) if person else None
            ledger = replace(ledgers.get(row.contact_id, ConsentLedger()), bases=cfg.legal_basis)
            match decide_due(touch, who, to, ledger, history, cfg, now):
                case Skip(reason=no):
                    results.append((row, touch_store.SKIPPED, no.value, None))
                case Defer(reason=later, until=until):
                    results.append((row, touch_store.PLANNED, later.value, until))
                case Send():
                    assert who is not None and touch is not None and person is not None
                    assert to is not None
                    history.append(SentTouch(who.contact_id, who.account_id, touch.channel, now))
                    sends.append(
                        (row, command(row, to, cfg.rep_channel, person, account, note, now))
                    )
                case unexpected:
                    assert_never(unexpected)
        if self.links is not None:  # ack/snooze/contact/account links for the rep
            for row, cmd in sends:
                if (note := notes.get(row.id)) is not None:
                    links = self.links.variables(note.id, row.contact_id, row.account_id, now)
                    cmd.variables.update(links)
        await asyncio.gather(
            *[
                self.producer.send_and_wait(topic, encode(cmd), key=key)
                for _, cmd in sends
                for topic, key in [topic_for(cmd)]  # reminders: their own lane, keyed by rep
            ]
        )
        self.dispatched += len(sends)
        results += [(row, touch_store.DISPATCHED, PlanReason.ALLOWED, None) for row, _ in sends]
        for row, status, reason, retry_at in results:
            await touch_store.finish(
                conn, row.id, self.me, status=status, reason=reason, now=now, due_at=retry_at
            )
        await decision_log.log_decisions(
            conn, [decision_of(r, s, why, at, now, cfg.version) for r, s, why, at in results]
        )


def _cap_keys(claimed: list[StoredTouch], people: dict[str, ContactView]) -> set[str]:
    """What the caps count per: the recipient's account (the account cap spans its people),
    else the contact."""
    keys = set()
    for row in claimed:
        person = people.get(row.contact_id)
        account = (person.account_id if person else None) or row.account_id
        keys.add(f"a:{account}" if account else f"c:{row.contact_id}")
    return keys


def _rep_of(note: ReminderNote | None) -> str | None:
    return note.rep if note is not None else None


async def _reminder_notes(
    conn: AsyncConnection, claimed: list[StoredTouch]
) -> dict[str, ReminderNote]:
    """touch id -> its reminder: a reminder's first touch has the reminder's id (its retries
    that id plus ``~r<n>``), a touch made when a snooze ended names the reminder in its step."""
    reminder_of = {t.id: reminder_of_step(t.sequence_step) or origin_of(t.id)[0] for t in claimed}
    rows = await conn.execute(
        select(reminders).where(reminders.c.id.in_(set(reminder_of.values())))
    )
    found = {r["id"]: ReminderNote.from_row(r) for r in rows.mappings()}
    return {tid: found[rid] for tid, rid in reminder_of.items() if rid in found}
