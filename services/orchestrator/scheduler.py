"""``dispatch-due-touches``: the loop that runs ``handle_due`` and the reminder clock.

Each round is one SQL unit of work: ``handle_due`` claims a batch (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, one atomic claiming UPDATE on SQLite), decides each touch again and marks it; the
commands it returns are published here with acks=all *before* the commit. Crash or publish
failure before the commit: the claim is rolled back with everything else, and the touch is
claimed and published again by a later round. That is safe because ``touch_id`` is the
notifier's idempotency key: a touch is *sent* at most once even when its command is on the
topic twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer
from opentelemetry.context import Context
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import DispatchTouch
from services.orchestrator.adapters.sql_uow import SqlUnitOfWork
from services.orchestrator.application.due import handle_due
from services.orchestrator.application.handoff_clock import handle_handoff_clock
from services.orchestrator.application.reminder_clock import handle_reminder_clock
from services.orchestrator.application.value_watch import handle_value_watch
from services.orchestrator.domain.views import AccountView, ContactView, ReminderNote
from services.orchestrator.ops.links import ReminderLinks
from services.orchestrator.people import Nurture
from services.orchestrator.reminder_variables import tell_the_story
from services.orchestrator.touch_commands import topic_for
from trellis import tracing
from trellis.kafka import encode
from trellis.logs import error_kind

log = logging.getLogger(__name__)


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
        gap_s: float = 0.0,
    ) -> None:
        self.engine, self.producer, self.nurture = engine, producer, nurture
        self.me, self.clock, self.batch = me, clock, batch
        self.gap_s = gap_s  # the least time between the starts of two woken rounds
        self.links = links  # signed ack/snooze links in reminder messages
        self.dispatched = 0
        self.reminder_expiry = timedelta(days=nurture.config.reminder_expire_days)
        self._woken = asyncio.Event()
        self._woken_by: Context | None = None

    def wake(self) -> None:
        """Ask for a dispatch round now (the consumer, after a batch that may have made
        something due: speed to lead). Wakes arriving during a round coalesce into one more
        round, and the batch loop never waits for the round: it goes on with its next batch."""
        if not self._woken.is_set():  # the round carries on the trace of its first waker
            self._woken_by = tracing.current()
        self._woken.set()

    async def run(self, stop: asyncio.Event, interval_s: float, lock: asyncio.Lock) -> None:
        """Dispatch rounds when woken and at least every ``interval_s``, the clocks (reminder
        expiry, value watch, handoff SLAs) every ``interval_s``, until ``stop``; ``lock`` keeps
        rounds and the consumer's batches of this process apart (SQLite has one writer).
        A round woken within ``gap_s`` of the last one's start waits out the rest of the gap:
        a round costs about ten statements whatever it claims, and a busy consumer wakes the
        loop after every batch (a hand-raise's reminder does not wait: ``dispatch_now``)."""
        clocks_due = 0.0
        started = float("-inf")  # the last round's start: none yet
        while not stop.is_set():
            early = started + self.gap_s - time.monotonic()
            if early > 0:  # wakes arriving meanwhile coalesce into this round
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), early)
                if stop.is_set():
                    break
            started = time.monotonic()
            self._woken.clear()  # a wake from here on asks for another round
            waker, self._woken_by = self._woken_by, None
            try:
                if time.monotonic() >= clocks_due:
                    clocks_due = time.monotonic() + interval_s
                    async with lock, SqlUnitOfWork.begin(self.engine) as uow:
                        version = self.nurture.config.version or ""
                        now = self.clock()
                        await handle_reminder_clock(uow, now, self.reminder_expiry, version)
                        await handle_value_watch(uow, self.nurture, now)  # day N, no activation
                        await handle_handoff_clock(uow, self.nurture, now)
                with tracing.within(waker):  # a reminder's trace runs on from its event
                    while True:
                        async with lock:
                            if await self.dispatch_due() < self.batch:
                                break  # a full batch: more may be due
            except Exception as exc:  # the type chain only: a driver's text can quote an email
                log.error(
                    "dispatch-due-touches round failed (%s); retrying next round", error_kind(exc)
                )
            wait = max(0.0, clocks_due - time.monotonic())
            woken = asyncio.ensure_future(self._woken.wait())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({woken, stopping}, timeout=wait, return_when="FIRST_COMPLETED")
            finally:
                woken.cancel()
                stopping.cancel()

    async def dispatch_now(self, lock: asyncio.Lock, limit: int) -> None:
        """A small round in the caller's task: the batch that applied ``limit`` hand-raises
        claims that many due touches (reminders are claimed first) before taking its next
        batch, so the rep's reminder does not share the event loop with that batch (woken, the
        round did, and took as long again). Whatever else is due (marketing), and a failure,
        are left to the scheduler's own round, woken as after any batch."""
        try:
            async with lock:
                await self.dispatch_due(limit)
        except Exception as exc:  # the type chain only: a driver's text can quote an email
            log.error("dispatch round after a hand-raise failed (%s); woken", error_kind(exc))
        self.wake()

    async def dispatch_due(self, limit: int | None = None) -> int:
        """One round of at most ``limit`` touches (unset: the scheduler's batch); returns how
        many it claimed."""
        links = self.links.variables if self.links is not None else None
        now, config = self.clock(), self.nurture.config
        async with SqlUnitOfWork.begin(self.engine) as uow:

            async def story(
                sends: list[DispatchTouch],
                notes: Mapping[str, ReminderNote],
                people: Mapping[str, ContactView],
                accs: Mapping[str, AccountView],
            ) -> None:
                await tell_the_story(uow.conn, sends, notes, people, accs, config, now)

            claimed, sends = await handle_due(
                uow, self.nurture, self.me, now, limit or self.batch, links, story
            )
            sent = []
            for cmd in sends:
                topic, key = topic_for(cmd)
                sent.append(self.producer.send_and_wait(topic, encode(cmd), key=key))
            await asyncio.gather(*sent)  # before the commit: a failure rolls the claim back
        self.dispatched += len(sends)
        return claimed
