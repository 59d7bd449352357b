"""``Trellis-Historical: true``: a request whose events are history a producer replays through
its own pipeline. They are published with the Kafka header ``trellis-historical: 1``
(``schemas.historical``), so the orchestrator applies them to stages and scores and plans and
sends nothing for them, as ``trellis import`` does. SDK keys are public (they sit in web pages):
only server, CRM and consent sources may mark a request historical.

Segment has no historical flag: its convention for importing history is the call's own
``timestamp`` (the time it happened), which every Segment route already honours."""

from __future__ import annotations

from fastapi import HTTPException, Request, status

from schemas.vocabulary import SourceKind
from trellis.sources import Source

HEADER = "trellis-historical"
_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def historical_request(request: Request, source: Source) -> bool:
    """True when the request says so; 400 for a value that is neither, 403 for an SDK key."""
    value = request.headers.get(HEADER)
    if value is None or value.strip().lower() in _FALSE:
        return False
    if value.strip().lower() not in _TRUE:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{HEADER}: true or false")
    if source.kind is SourceKind.SDK:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "an SDK key may not import history: use a server source"
        )
    return True
