"""``GET /v1/funnel/handoffs``: the handoff KPIs per team and per owner and time to first value
per cohort (route only parses and calls ``kpi_handoffs``; no SQL here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request

from services.orchestrator.ops.auth import ReadKey
from services.orchestrator.ops.errors import invalid
from services.orchestrator.ops.kpi_handoff_models import HandoffKpis
from services.orchestrator.ops.kpi_handoffs import handoff_kpis_answer
from services.orchestrator.ops.models import answers
from services.orchestrator.ops.params import Range
from services.orchestrator.ops.routes import Conn

router = APIRouter(prefix="/v1/funnel", tags=["funnel"])
DEFAULT_WINDOW = timedelta(days=90)


@router.get("/handoffs", **answers(HandoffKpis))
async def handoff_kpis(
    _key: ReadKey, conn: Conn, request: Request, window: Range
) -> dict[str, Any]:
    """Per receiving team and per owner: SLA attainment, median hours to accept and to first
    contact, SQL leads never contacted, breaches and escalations, over the handoffs made in the
    window (default: the last 90 days) as of its end; and per closed-won month the median days
    to activation and to the first usage milestone. ``definitions`` defines every figure."""
    end: datetime = window.until or request.app.state.clock()
    start = window.since or end - DEFAULT_WINDOW
    if end <= start:
        raise invalid("query", "until", "until must be after since")
    return await handoff_kpis_answer(conn, start, end)
