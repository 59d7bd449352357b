"""Idempotent dispatch on real databases (SQLite and PostgreSQL) and a real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel, DispatchTouch
from schemas.outcomes import OutcomeStatus, TouchOutcome
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.channels.sms import SmsConfig, TwilioSmsSender
from services.notifier.dispatch import Dispatcher, DispatchInterrupted
from services.notifier.ledger import claim_for_sending
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.retry import RetryPolicy
from services.notifier.tables import send_ledger
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.integration.notifier_servers import (
    GREYLISTED,
    REFUSED,
    SID,
    TOKEN,
    HttpSink,
    http_server,
    smtp_server,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class MemoryPublisher:
    def __init__(self) -> None:
        self.outcomes: list[TouchOutcome] = []

    async def publish(self, outcomes: Sequence[TouchOutcome]) -> None:
        self.outcomes.extend(outcomes)


def cmd(touch_id: str, to: str = "ana@acme.test") -> tuple[DispatchTouch, int]:
    touch = DispatchTouch(
        touch_id=touch_id,
        contact_id="c-1",
        channel=Channel.EMAIL,
        template_id="generic",
        stage="engaged",
        to=to,
        variables={"subject": "Hi", "body": "Hello"},
        decided_at=NOW,
    )
    return touch, 0


def dispatcher(engine: AsyncEngine, port: int, publisher: MemoryPublisher) -> Dispatcher:
    config = SmtpConfig(host="127.0.0.1", port=port, sender="nurture@trellis.test")
    signer = UnsubscribeSigner(b"k", "https://trellis.test/u")
    sender = SmtpEmailSender(config, signer, clock=lambda: NOW)
    return Dispatcher(engine, {Channel.EMAIL: sender}, JinjaRenderer(), publisher, lambda: NOW)


async def statuses(engine: AsyncEngine) -> dict[str, tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(send_ledger.c.touch_id, send_ledger.c.status, send_ledger.c.error)
        )
        return {r.touch_id: (r.status, r.error) for r in rows}


async def test_a_touch_is_sent_once_across_duplicates_and_redelivery(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    async with smtp_server() as (catcher, port):
        d = dispatcher(engine, port, publisher)
        await d.dispatch([cmd("t-1"), cmd("t-1"), cmd("t-2")])
        await d.dispatch([cmd("t-1"), cmd("t-2")])  # the batch redelivered
    assert sorted(m["X-Trellis-Touch-Id"] for m in catcher.messages) == ["t-1", "t-2"]
    assert {o.id for o in publisher.outcomes} == {"t-1:sent", "t-2:sent"}
    assert len(publisher.outcomes) == 4  # republished from the ledger, same ids: dedup downstream
    assert all(o.provider_id and o.provider_id.startswith("<") for o in publisher.outcomes)
    assert await statuses(engine) == {"t-1": ("sent", None), "t-2": ("sent", None)}


async def test_a_touch_left_sending_by_a_crash_is_reported_failed_not_resent(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:  # the crashed process claimed it, then died mid-send
        await claim_for_sending(conn, [cmd("t-crash")], NOW)
    publisher = MemoryPublisher()
    async with smtp_server() as (catcher, port):
        await dispatcher(engine, port, publisher).dispatch([cmd("t-crash")])
    assert catcher.messages == []
    [outcome] = publisher.outcomes
    assert outcome.status is OutcomeStatus.FAILED and not outcome.retryable
    assert outcome.detail and outcome.detail.startswith("unknown")
    assert (await statuses(engine))["t-crash"][0] == "failed"


async def test_failures_are_recorded_with_their_kind(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    async with smtp_server() as (catcher, port):
        d = dispatcher(engine, port, publisher)
        await d.dispatch([cmd("t-perm", REFUSED), cmd("t-temp", GREYLISTED)])
        await d.dispatch([cmd("t-perm", REFUSED), cmd("t-temp", GREYLISTED)])
    assert catcher.messages == []
    kinds = {(o.touch_id, o.status, o.retryable) for o in publisher.outcomes}
    assert kinds == {
        ("t-perm", OutcomeStatus.FAILED, False),
        ("t-temp", OutcomeStatus.FAILED, True),
    }
    assert len(publisher.outcomes) == 4
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(send_ledger.c.touch_id, send_ledger.c.retryable, send_ledger.c.error)
        )
        stored = {r.touch_id: (r.retryable, r.error) for r in rows}
    assert stored["t-temp"][0] is True and stored["t-perm"][0] is False
    assert stored["t-temp"][1].startswith("451 ")  # the flag is a column, not a prefix
    assert all(GREYLISTED not in e and REFUSED not in e for _, e in stored.values())


async def test_unknown_template_fails_permanently_without_sending(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    touch, _ = cmd("t-tpl")
    async with smtp_server() as (catcher, port):
        bad = touch.model_copy(update={"template_id": "missing"})
        await dispatcher(engine, port, publisher).dispatch([(bad, 0)])
    assert catcher.messages == []
    [outcome] = publisher.outcomes
    assert outcome.status is OutcomeStatus.FAILED and not outcome.retryable


def sms_dispatcher(
    engine: AsyncEngine, sink: HttpSink, client: httpx.AsyncClient, publisher: MemoryPublisher
) -> tuple[Dispatcher, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    sender = TwilioSmsSender(SmsConfig(sink.base_url, SID, TOKEN, "+15559990000"), client)
    retry = RetryPolicy(attempts=4, base_s=0.5, max_s=30.0)
    d = Dispatcher(
        engine,
        {Channel.SMS: sender},
        JinjaRenderer(),
        publisher,
        lambda: NOW,
        retry=retry,
        sleep=sleep,
    )
    return d, slept


def sms(touch_id: str, to: str) -> tuple[DispatchTouch, int]:
    touch, _ = cmd(touch_id)
    return touch.model_copy(update={"channel": Channel.SMS, "to": to}), 0


async def test_transient_provider_errors_are_retried_with_backoff(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    async with http_server() as sink, httpx.AsyncClient() as client:
        d, slept = sms_dispatcher(engine, sink, client, publisher)
        await d.dispatch([sms("t-flaky", "+15551237503"), sms("t-limited", "+15551230429")])
    assert sink.calls == {"+15551237503": 3, "+15551230429": 4}
    assert [f["To"] for f in sink.sms] == ["+15551237503"]
    by_id = {o.touch_id: o for o in publisher.outcomes}
    assert by_id["t-flaky"].status is OutcomeStatus.SENT
    assert by_id["t-limited"].status is OutcomeStatus.FAILED and by_id["t-limited"].retryable
    assert len(slept) == 2 + 3
    assert all(0 <= s <= 30.0 for s in slept)
    async with engine.connect() as conn:
        attempts = dict(
            (await conn.execute(select(send_ledger.c.touch_id, send_ledger.c.attempts))).all()
        )
    assert attempts == {"t-flaky": 3, "t-limited": 4}


async def test_permanent_errors_are_never_retried(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    async with http_server() as sink, httpx.AsyncClient() as client:
        d, slept = sms_dispatcher(engine, sink, client, publisher)
        await d.dispatch([sms("t-stop", "+15550021610")])
    assert sink.calls == {"+15550021610": 1}
    assert slept == []
    [outcome] = publisher.outcomes
    assert outcome.status is OutcomeStatus.FAILED and not outcome.retryable
    assert outcome.detail and "21610" in outcome.detail


async def test_a_touch_older_than_the_max_age_expires_unsent(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    old, _ = cmd("t-old")
    old = old.model_copy(update={"decided_at": NOW - timedelta(days=1)})
    async with smtp_server() as (catcher, port):
        await dispatcher(engine, port, publisher).dispatch([(old, 0)])
    assert catcher.messages == []
    [outcome] = publisher.outcomes
    assert not outcome.retryable and outcome.detail and "expired" in outcome.detail


async def test_stopping_mid_batch_releases_unsent_touches_and_redelivery_sends_them_once(
    engine: AsyncEngine,
) -> None:
    """A rate-limited batch (4/s) is stopped after its first email: that one is recorded sent,
    the rest go back to ``queued`` without a provider call, the batch must be redelivered, and
    the redelivery sends exactly the rest."""
    publisher = MemoryPublisher()
    commands = [cmd(f"t-{i}") for i in range(5)]
    async with smtp_server() as (catcher, port):
        first = dispatcher(engine, port, publisher)
        first.limits = {Channel.EMAIL: SqlRateLimiter(engine, "smtp", rate_per_s=4)}
        running = asyncio.create_task(first.dispatch(commands))
        async with asyncio.timeout(10):
            while not catcher.messages:  # noqa: ASYNC110 - polling the SMTP server's inbox
                await asyncio.sleep(0.005)
        first.stopping.set()
        with pytest.raises(DispatchInterrupted, match="4 of 5 touches released"):
            await running
        assert [m["X-Trellis-Touch-Id"] for m in catcher.messages] == ["t-0"]
        assert await statuses(engine) == {"t-0": ("sent", None)} | {
            f"t-{i}": ("queued", None) for i in range(1, 5)
        }
        assert [o.id for o in publisher.outcomes] == ["t-0:sent"]

        again = dispatcher(engine, port, publisher)  # the next owner of the partition
        again.limits = {Channel.EMAIL: SqlRateLimiter(engine, "smtp", rate_per_s=50)}
        await again.dispatch(commands)
    assert sorted(m["X-Trellis-Touch-Id"] for m in catcher.messages) == [f"t-{i}" for i in range(5)]
    assert set((await statuses(engine)).values()) == {("sent", None)}
    assert sorted(o.id for o in publisher.outcomes) == sorted(
        ["t-0:sent"] + [f"t-{i}:sent" for i in range(5)]
    )  # t-0's outcome republished from the ledger, same id


async def test_a_stopped_dispatcher_makes_no_provider_call(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    async with smtp_server() as (catcher, port):
        stopped = dispatcher(engine, port, publisher)
        stopped.stopping.set()
        with pytest.raises(DispatchInterrupted, match="2 of 2"):
            await stopped.dispatch([cmd("t-a"), cmd("t-b")])
    assert catcher.messages == [] and publisher.outcomes == []
    assert await statuses(engine) == {"t-a": ("queued", None), "t-b": ("queued", None)}


async def test_marketing_sends_wait_while_a_reminder_batch_dispatches_and_go_on_after(
    engine: AsyncEngine,
) -> None:
    """``yields_to`` cleared (the reminders lane is dispatching): a marketing batch claims its
    touches but starts no send; set again, every one is sent once. Stopping meanwhile releases
    them unsent (the batch is redelivered), never lost."""
    publisher = MemoryPublisher()
    no_reminder = asyncio.Event()
    async with smtp_server() as (catcher, port):
        d = dispatcher(engine, port, publisher)
        d.yields_to = no_reminder
        batch = asyncio.create_task(d.dispatch([cmd("m-1"), cmd("m-2")]))
        await asyncio.sleep(0.5)
        assert catcher.messages == [] and not batch.done()  # held while a reminder goes out
        assert await statuses(engine) == {"m-1": ("sending", None), "m-2": ("sending", None)}
        no_reminder.set()
        await asyncio.wait_for(batch, 10)
        held = dispatcher(engine, port, publisher)
        held.yields_to, held.stopping = asyncio.Event(), asyncio.Event()
        stuck = asyncio.create_task(held.dispatch([cmd("m-3")]))
        await asyncio.sleep(0.3)
        held.stopping.set()
        with pytest.raises(DispatchInterrupted):
            await asyncio.wait_for(stuck, 10)
    assert sorted(m["X-Trellis-Touch-Id"] for m in catcher.messages) == ["m-1", "m-2"]
    assert (await statuses(engine))["m-3"] == ("queued", None)  # released: sent on redelivery
