"""``redispatch-stale-touches``: a touch still ``dispatched`` long after its command went out is
published again, under the same touch id.

The notifier answers every command it receives with an outcome (sent or failed, from its send
ledger), and the outcome moves the touch out of ``dispatched`` (``TOUCH_STATUS`` in the outcome
handler). A touch still ``dispatched`` after ``after`` therefore has no outcome: its command was
lost between the scheduler's mark and the notifier (a memory-only broker that died, a topic
truncated), or its outcome was. Publishing the command again is safe because the touch id is
the notifier's idempotency key: a touch it already sent is not sent again, its outcome is
published again from the ledger; one it was sending when it crashed is reported failed.

The command carries the touch's first dispatch time as ``decided_at``, so the notifier's
maximum age (``TRELLIS_NOTIFIER_MAX_AGE_S``) still counts from then: a touch whose command was
lost long ago is answered ``failed`` (expired), never sent late. Before publishing, consent is
checked again (a recipient who opted out since is not written to: the touch is skipped with the
reason), and so is the address. Each re-dispatch is a decision (``touch_dispatched``,
``REDISPATCHED``) and stamps ``claimed_at`` with the time the command was last published, so the
next re-dispatch of a touch that still hears nothing comes ``after`` later. On PostgreSQL the
stale rows are taken ``FOR UPDATE SKIP LOCKED``; on SQLite the stamping ``UPDATE`` only wins for
rows still stale, so two instances never both publish one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import DispatchTouch
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.adapters.tables import touches
from services.orchestrator.application.due import Links, reminder_of_step
from services.orchestrator.application.unit_of_work import DISPATCHED, SKIPPED
from services.orchestrator.domain.channels import TouchChannel
from services.orchestrator.domain.consent import ConsentLedger
from services.orchestrator.domain.eligibility import blocked
from services.orchestrator.domain.nurture_config import NurtureConfig
from services.orchestrator.domain.reasons import Reason
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.touch_log import DispatchProblem, LaterReason, TouchDecision
from services.orchestrator.domain.touch_retry import origin_of
from services.orchestrator.domain.views import StoredTouch
from services.orchestrator.ops.links import ReminderLinks
from services.orchestrator.people import Nurture
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.touch_commands import address, command, topic_for
from trellis.kafka import encode
from trellis.logs import error_kind

log = logging.getLogger(__name__)
LAST_PUBLISHED = func.coalesce(touches.c.claimed_at, touches.c.dispatched_at)
"""When a dispatched touch's command was last published: its claim, or its last re-dispatch."""


class Redispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        nurture: Nurture,
        clock: Callable[[], datetime],
        after: timedelta,
        batch: int = 500,
        links: Links | None = None,
    ) -> None:
        self.engine, self.producer, self.nurture = engine, producer, nurture
        self.clock, self.after, self.batch, self.links = clock, after, batch, links
        self.redispatched = 0

    @classmethod
    def of(
        cls,
        settings: OrchestratorSettings,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        nurture: Nurture,
        clock: Callable[[], datetime],
        links: ReminderLinks | None,
    ) -> Redispatcher:
        after = timedelta(seconds=settings.orchestrator_redispatch_after_s)
        batch = settings.orchestrator_scheduler_batch
        variables = links.variables if links is not None else None
        return cls(engine, producer, nurture, clock, after, batch, variables)

    async def run(self, stop: asyncio.Event, interval_s: float, lock: asyncio.Lock) -> None:
        """A round every ``interval_s`` until ``stop``; ``lock``: one writer in this process."""
        while not stop.is_set():
            try:
                while True:
                    async with lock:
                        if await self.redispatch_stale() < self.batch:
                            break
            except Exception as exc:  # the type chain only: a driver's text can quote an email
                log.error("redispatch-stale-touches round failed (%s)", error_kind(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    async def redispatch_stale(self) -> int:
        """One round; returns how many stale touches it took (re-dispatched or skipped)."""
        now = self.clock()
        cutoff = now - self.after
        async with SqlUnitOfWork.begin(self.engine) as uow:
            stale = select(touches.c.id).where(
                touches.c.status == DISPATCHED, cutoff > LAST_PUBLISHED
            )
            if uow.conn.dialect.name == "postgresql":
                stale = stale.with_for_update(skip_locked=True)
            ids = list(await uow.conn.scalars(stale.order_by(LAST_PUBLISHED).limit(self.batch)))
            taken = await uow.conn.scalars(
                update(touches)
                .where(touches.c.id.in_(ids), touches.c.status == DISPATCHED)
                .where(cutoff > LAST_PUBLISHED)
                .values(claimed_at=now)
                .returning(touches.c.id)
            )
            rows = list((await uow.touches.by_ids(taken.all())).values())
            sends, logged, skipped = await self._commands(uow, rows, now)
            if skipped:
                await uow.conn.execute(
                    update(touches)
                    .where(touches.c.id == bindparam("b_id"), touches.c.status == DISPATCHED)
                    .values(status=SKIPPED, reason=bindparam("b_reason")),
                    [{"b_id": touch_id, "b_reason": why} for touch_id, why in skipped.items()],
                )
            await uow.decisions.log(logged)
            await asyncio.gather(*[
                self.producer.send_and_wait(topic, encode(cmd), key=key)
                for cmd in sends for topic, key in [topic_for(cmd)]
            ])  # fmt: skip  # before the commit: a failed publish leaves them stale
        self.redispatched += len(sends)
        if rows:
            log.info("re-dispatched %d stale touches, skipped %d", len(sends), len(skipped))
        return len(rows)

    async def _commands(
        self, uow: SqlUnitOfWork, rows: list[StoredTouch], now: datetime
    ) -> tuple[list[DispatchTouch], list[DecisionRecord], dict[str, str]]:
        """(commands to publish again, their decisions, touch id -> why it is skipped instead)."""
        cfg = self.nurture.config
        people = await uow.contacts.views({t.contact_id for t in rows})
        accs = await uow.accounts.views({p.account_id for p in people.values() if p.account_id})
        ledgers = await uow.consent.ledgers(people)
        reminder_of = {t.id: reminder_of_step(t.sequence_step) or origin_of(t.id)[0] for t in rows}
        found = await uow.reminders.notes(set(reminder_of.values()))
        sends: list[DispatchTouch] = []
        logged: list[DecisionRecord] = []
        skipped: dict[str, str] = {}
        for row in rows:
            person = people.get(row.contact_id)
            account = accs.get(person.account_id or "") if person else None
            channel, note = TouchChannel(row.channel), found.get(reminder_of[row.id])
            to = address(channel, person, account, note, self.nurture) if person else None
            ledger = replace(ledgers.get(row.contact_id, ConsentLedger()), bases=cfg.legal_basis)
            why = blocked(channel, ledger, now) or (None if to else DispatchProblem.NO_ADDRESS)
            facts = _facts(row)
            if person is None or to is None or why is not None:
                reason = why or DispatchProblem.UNKNOWN_CONTACT
                skipped[row.id] = reason
                logged.append(_decision(row, TouchDecision.TOUCH_SKIPPED, reason, facts, now, cfg))
                continue
            cmd = command(row, to, cfg.rep_channel, person, account, note, now)
            if row.dispatched_at is not None:  # the notifier's max age counts from the first
                cmd = cmd.model_copy(update={"decided_at": row.dispatched_at})
            if self.links is not None and note is not None:
                cmd.variables.update(self.links(note.id, row.contact_id, row.account_id, now))
            sends.append(cmd)
            kind, reason = TouchDecision.TOUCH_DISPATCHED, LaterReason.REDISPATCHED
            logged.append(_decision(row, kind, reason, facts, now, cfg))
        return sends, logged, skipped


def _facts(row: StoredTouch) -> Mapping[str, str]:
    first = row.dispatched_at.isoformat() if row.dispatched_at else ""
    return {"channel": row.channel, "first_dispatched_at": first}


def _decision(
    row: StoredTouch, kind: str, reason: Reason, facts: Mapping[str, str], now: datetime,
    cfg: NurtureConfig,
) -> DecisionRecord:  # fmt: skip
    return DecisionRecord(
        contact_id=row.contact_id, account_id=row.account_id, touch_id=row.id, kind=kind,
        reason=reason, facts=facts, playbook_version=cfg.version or "nurture", decided_at=now,
    )  # fmt: skip
