"""The mark of imported history on ``trellis.engagement.v1``: a Kafka header, so the event's
own bytes stay what the producer sent. The orchestrator applies such an event to stages and
scores like a live one and plans and sends nothing for it (reason ``historical``)."""

from __future__ import annotations

from collections.abc import Sequence

HISTORICAL_HEADER = "trellis-historical"
HISTORICAL_VALUE = b"1"


def is_historical(headers: Sequence[tuple[str, bytes]] | None) -> bool:
    """True when a record carries ``trellis-historical: 1``."""
    return any(k == HISTORICAL_HEADER and v == HISTORICAL_VALUE for k, v in headers or ())
