"""Remembers delivered ``webhook-id``s for longer than the signature tolerance, so a captured
request replayed inside the 5-minute window is answered without publishing again.

An id is remembered only after its events were acknowledged: a sender retrying after a 503
gets through. Per process; across instances the orchestrator's event-id dedup still holds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

REMEMBER_S = 10 * 60  # twice the tolerance
MAX_REMEMBERED = 100_000


class DeliveredWebhooks:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._seen and (
            len(self._seen) > MAX_REMEMBERED or next(iter(self._seen.values())) < now - REMEMBER_S
        ):
            self._seen.popitem(last=False)

    def seen(self, source_id: str, webhook_id: str) -> bool:
        self._expire(self._clock())
        return (source_id, webhook_id) in self._seen

    def remember(self, source_id: str, webhook_id: str) -> None:
        self._seen[(source_id, webhook_id)] = self._clock()
