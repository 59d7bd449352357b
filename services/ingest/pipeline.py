"""The one path every endpoint shares: check the vocabulary, stamp, publish, wait for acks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from schemas.events import EngagementEvent
from schemas.outcomes import TouchOutcome
from services.ingest.observability import IngestMetrics
from services.ingest.publisher import KafkaEventPublisher
from services.ingest.settings import IngestSettings
from services.ingest.validation import Limits, Loc, check_kinds, check_vocabulary
from trellis.sources import Source


class Pipeline:
    def __init__(
        self, settings: IngestSettings, publisher: KafkaEventPublisher, metrics: IngestMetrics
    ) -> None:
        self._settings = settings
        self._limits = Limits(settings.event_time_window)
        self._publisher = publisher
        self._metrics = metrics
        # Label lookups resolved once: ``labels()`` costs a lock and a dict build per call.
        self._engagement_accepted = metrics.events_accepted.labels("engagement")
        self._outcomes_accepted = metrics.events_accepted.labels("outcome")

    async def accept(
        self,
        events: Sequence[EngagementEvent],
        locs: Sequence[Loc],
        source: Source,
        historical: bool = False,
    ) -> list[EngagementEvent]:
        """All-or-nothing: every event permitted to ``source``, valid, plausible and
        acknowledged by the broker, or an error (403, 413, 422, 503). ``historical``: marked
        as imported history (``services.ingest.historical``)."""
        if len(events) > self._settings.ingest_max_batch:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"at most {self._settings.ingest_max_batch} events per request",
            )
        check_kinds(source.kind, events, locs)
        now = datetime.now(UTC)
        stamped = check_vocabulary(
            events,
            locs,
            self._settings.ingest_custom_event_types,
            now,
            self._limits,
            source.name,
        )
        started = time.perf_counter()
        await self._publisher.publish(stamped, historical)
        self._metrics.produce_seconds.observe(time.perf_counter() - started)
        self._engagement_accepted.inc(len(stamped))
        return stamped

    async def report(self, outcomes: Sequence[TouchOutcome]) -> None:
        """Provider callbacks onto the outcomes topic, acknowledged before we answer."""
        started = time.perf_counter()
        await self._publisher.publish_outcomes(outcomes)
        self._metrics.produce_seconds.observe(time.perf_counter() - started)
        self._outcomes_accepted.inc(len(outcomes))


async def get_pipeline(request: Request) -> Pipeline:
    # async on purpose: FastAPI runs sync dependencies in a thread pool (a hop per request).
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]


async def get_settings(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
