"""A consumer's readiness beyond its dependencies: joined, owning partitions, batches passing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiokafka import TopicPartition

from trellis.consumer import Record, Rejected
from trellis.health import ConsumerHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_unready_until_the_group_assigns_partitions_and_during_a_rebalance() -> None:
    clock = Clock()
    health = ConsumerHealth("orchestrator", failing_after_s=30, clock=clock)
    assert health.group_problems() == {"group": "not joined yet"}
    await health.membership.on_partitions_revoked([])
    await health.membership.on_partitions_assigned([])
    assert health.group_problems() == {"group": "joined, owns no partitions"}
    await health.membership.on_partitions_revoked([])
    await health.membership.on_partitions_assigned([TopicPartition("t", 0)])
    assert health.group_problems() == {}
    await health.membership.on_partitions_revoked([TopicPartition("t", 0)])
    assert health.group_problems() == {"group": "rebalancing"}


async def test_failing_batches_make_it_unready_only_after_the_grace_and_a_success_clears_it() -> (
    None
):
    clock = Clock()
    health = ConsumerHealth("notifier", failing_after_s=30, clock=clock)
    await health.membership.on_partitions_assigned([TopicPartition("t", 0)])
    failing = True

    async def handler(records: Sequence[Record]) -> Sequence[Rejected]:
        if failing:
            raise ConnectionRefusedError("database down")
        return []

    watched = health.watch(handler)
    with pytest.raises(ConnectionRefusedError):
        await watched([])
    clock.now += 30
    with pytest.raises(ConnectionRefusedError):  # retried: still failing since the first
        await watched([])
    assert health.group_problems() == {}  # 30 s is not longer than the grace
    clock.now += 1
    assert health.group_problems() == {"batches": "failing for 31s"}
    failing = False
    assert await watched([]) == []
    assert health.group_problems() == {}
