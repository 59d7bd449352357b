"""The shared provider budget on real databases: two limiters (two notifier instances, two
engines) never hand out slots closer than the configured rate allows."""

from __future__ import annotations

import asyncio
import itertools
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.commands import Channel
from services.notifier.channels.email import SmtpConfig, SmtpEmailSender
from services.notifier.dispatch import Dispatcher
from services.notifier.rate_limit import SqlRateLimiter
from services.notifier.render import JinjaRenderer
from services.notifier.unsubscribe import UnsubscribeSigner
from tests.integration.notifier_servers import smtp_server
from tests.integration.test_notifier_dispatch import NOW, MemoryPublisher, cmd
from trellis.db import create_engine


async def test_two_instances_share_one_budget(engine: AsyncEngine, database_url: str) -> None:
    other = create_engine(database_url)
    try:
        a = SqlRateLimiter(engine, "sms", rate_per_s=50)
        b = SqlRateLimiter(other, "sms", rate_per_s=50)
        slots = await asyncio.gather(*(lim.reserve() for lim in [a, b] * 20))
    finally:
        await other.dispose()
    ordered = sorted(slots)
    gaps = [y - x for x, y in itertools.pairwise(ordered)]
    assert min(gaps) >= 0.02 - 1e-6
    assert ordered[-1] - ordered[0] >= 39 * 0.02 - 1e-6


async def test_burst_allows_that_many_at_once_then_paces(engine: AsyncEngine) -> None:
    limiter = SqlRateLimiter(engine, "smtp", rate_per_s=10, burst=5, wall=lambda: 1000.0)
    slots = [await limiter.reserve() for _ in range(7)]
    assert [round(s - 1000.0, 6) for s in slots] == [-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2]


async def test_dispatch_waits_for_the_budget_instead_of_dropping(engine: AsyncEngine) -> None:
    publisher = MemoryPublisher()
    rate = 20.0
    async with smtp_server() as (catcher, port):
        config = SmtpConfig(host="127.0.0.1", port=port, sender="nurture@trellis.test")
        sender = SmtpEmailSender(config, UnsubscribeSigner(b"k", "https://t.test/u"), lambda: NOW)
        d = Dispatcher(
            engine,
            {Channel.EMAIL: sender},
            JinjaRenderer(),
            publisher,
            lambda: NOW,
            limits={Channel.EMAIL: SqlRateLimiter(engine, "smtp", rate_per_s=rate)},
        )
        started = time.monotonic()
        await d.dispatch([cmd(f"r-{i}") for i in range(11)])
        elapsed = time.monotonic() - started
    assert len(catcher.messages) == 11
    assert elapsed >= 10 / rate - 0.02


async def test_a_batch_claims_its_slots_in_one_reservation_and_others_queue_behind(
    engine: AsyncEngine, database_url: str
) -> None:
    other = create_engine(database_url)
    try:
        a = SqlRateLimiter(engine, "smtp", rate_per_s=100, wall=lambda: 2000.0)
        b = SqlRateLimiter(other, "smtp", rate_per_s=100, wall=lambda: 2000.0)
        batch = await a.reserve_many(5)
        after = await b.reserve()
    finally:
        await other.dispose()
    assert [round(s - 2000.0, 6) for s in batch] == [0.0, 0.01, 0.02, 0.03, 0.04]
    assert round(after - 2000.0, 6) == 0.05
    assert await a.reserve_many(0) == []
