"""The one path every endpoint shares: check the vocabulary, stamp, publish, wait for acks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from schemas.events import EngagementEvent
from services.ingest.publisher import KafkaEventPublisher
from services.ingest.settings import IngestSettings
from services.ingest.validation import Loc, check_vocabulary


class Pipeline:
    def __init__(self, settings: IngestSettings, publisher: KafkaEventPublisher) -> None:
        self._settings = settings
        self._publisher = publisher

    async def accept(
        self, events: Sequence[EngagementEvent], locs: Sequence[Loc]
    ) -> list[EngagementEvent]:
        """All-or-nothing: every event valid and acknowledged by the broker, or an error."""
        if len(events) > self._settings.ingest_max_batch:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"at most {self._settings.ingest_max_batch} events per request",
            )
        checked = check_vocabulary(events, locs, self._settings.ingest_custom_event_types)
        now = datetime.now(UTC)
        stamped = [e.model_copy(update={"received_at": now}) for e in checked]
        await self._publisher.publish(stamped)
        return stamped


def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]


def get_settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
