"""A consumer's place in its group: the partitions it owns, logged as they move.

Rebalances explain most pauses an operator sees (a restart, a crashed member, a slow batch
past ``max.poll.interval``), so every assignment and revocation is one INFO line naming the
partitions; readiness reads the same state (joined, owning partitions).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from aiokafka import ConsumerRebalanceListener, TopicPartition

log = logging.getLogger(__name__)


def describe(partitions: Iterable[TopicPartition]) -> str:
    """``topic[0,2,5]`` per topic, sorted; ``none`` for an empty set."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    parts = [f"{t}[{','.join(map(str, sorted(p)))}]" for t, p in sorted(by_topic.items())]
    return " ".join(parts) or "none"


class GroupMembership(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """Listens to one consumer's rebalances (aiokafka calls both hooks inside its poll)."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.owned: frozenset[TopicPartition] = frozenset()
        self.assignments = 0
        self.rebalancing_since: float | None = None
        self._clock = clock

    @property
    def joined(self) -> bool:
        """True once the group gave this member an assignment and no rebalance is under way."""
        return self.assignments > 0 and self.rebalancing_since is None

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.rebalancing_since = self._clock()
        if revoked:
            log.info("%s: partitions revoked: %s", self.name, describe(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        paused = "" if self.rebalancing_since is None else (
            f" after {self._clock() - self.rebalancing_since:.1f}s of rebalance"
        )  # fmt: skip
        self.owned = frozenset(assigned)
        self.assignments += 1
        self.rebalancing_since = None
        log.info("%s: partitions assigned%s: %s", self.name, paused, describe(assigned))
