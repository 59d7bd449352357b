"""Group membership on the real broker: rebalances are logged and readable, timeouts are ours."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from trellis.broker import EmbeddedBroker
from trellis.kafka import ensure_topics, make_consumer
from trellis.membership import GroupMembership
from trellis.settings import TrellisSettings

DEADLINE_S = 60


async def _until(condition: object, consumers: list[AIOKafkaConsumer]) -> None:
    """Poll every consumer (a member that does not poll cannot rebalance) until ``condition``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, "the group never reached the expected assignment"
        await asyncio.gather(*(c.getmany(timeout_ms=100) for c in consumers))


async def test_assignment_and_revocation_are_logged_and_tracked(
    broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    settings = TrellisSettings(kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)
    topic, group = f"grp.{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, [topic], partitions=4)
    first, second = GroupMembership("first"), GroupMembership("second")
    a = make_consumer(settings, topic, group_id=group, member=first)
    b = make_consumer(settings, topic, group_id=group, member=second)
    caplog.set_level(logging.INFO, logger="trellis.membership")
    await a.start()
    try:
        await _until(lambda: len(first.owned) == 4, [a])
        assert first.joined
        await b.start()
        try:
            await _until(lambda: first.owned and second.owned and first.joined, [a, b])
            assert first.owned | second.owned == {p for p in a.assignment() | b.assignment()}
            assert len(first.owned | second.owned) == 4 and not first.owned & second.owned
        finally:
            await b.stop()
    finally:
        await a.stop()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assigned = re.compile(r"(first|second): partitions assigned( after [\d.]+s of rebalance)?: ")
    assert [m.group(1) for line in lines if (m := assigned.match(line))][:1] == ["first"]
    assert f"first: partitions revoked: {topic}[0,1,2,3]" in lines
    assert {line.split(": ")[-1] for line in lines if assigned.match(line)} >= {
        f"{topic}[0,1,2,3]",
        f"{topic}[{','.join(str(p.partition) for p in sorted(second.owned))}]",
    }


async def test_group_timeouts_and_static_membership_come_from_settings() -> None:
    settings = TrellisSettings(
        kafka_bootstrap="kafka:9092",
        kafka_session_timeout_ms=45_000,
        kafka_heartbeat_interval_ms=5_000,
        kafka_rebalance_timeout_ms=60_000,
        kafka_static_membership=True,
        instance="orchestrator-1",
    )
    member = make_consumer(settings, "t", group_id="g", member=GroupMembership("m"))
    probe = make_consumer(settings, "t", group_id="probe")
    assert (member._session_timeout_ms, member._heartbeat_interval_ms) == (45_000, 5_000)
    assert member._rebalance_timeout_ms == 60_000
    assert member._group_instance_id == "orchestrator-1"
    assert probe._group_instance_id is None  # a tool never takes a replica's static identity
    assert probe._session_timeout_ms == 45_000


def test_a_heartbeat_slower_than_the_session_is_refused() -> None:
    with pytest.raises(ValueError, match="HEARTBEAT_INTERVAL_MS must be below"):
        TrellisSettings(kafka_session_timeout_ms=6_000, kafka_heartbeat_interval_ms=6_000)
