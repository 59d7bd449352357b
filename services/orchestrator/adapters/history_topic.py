"""History straight from the engagement topics, for ``trellis simulate --from-topic``: the
engagement topic and the live hand-raises' own (the simulation orders them by ``occurred_at``).

Reads every partition from its earliest retained offset up to the end offsets seen at the start
(``trellis.topic_reader``): the running orchestrator's position is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
from pydantic import ValidationError

from schemas.events import EngagementEvent
from schemas.topics import ENGAGEMENT_TOPICS
from trellis.settings import TrellisSettings
from trellis.topic_reader import read_to_end


class TopicHistory:
    def __init__(self) -> None:
        self.events: list[EngagementEvent] = []
        self.invalid = 0  # poison on the topic: the orchestrator dead-lettered it too


async def read_history_topic(
    settings: TrellisSettings,
    topics: Sequence[str] = ENGAGEMENT_TOPICS,
    progress: Callable[[int], None] | None = None,
) -> TopicHistory:
    history = TopicHistory()
    for topic in topics:
        async for values in read_to_end(settings, topic):
            for value in values:
                try:
                    event = EngagementEvent.model_validate(orjson.loads(value or b""))
                except (orjson.JSONDecodeError, ValidationError):
                    history.invalid += 1
                    continue
                history.events.append(event)
            if progress is not None:
                progress(len(values))
    return history
