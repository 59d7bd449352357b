"""The decision log's one table and its writers: ``log_decisions`` for ``DecisionRecord``s (touch
and reminder planning, the scheduler, outcomes, the reminder clock, the ops API) and
``add_decisions`` for the lifecycle's ``LogEntry``s. Both count what they write for the
metrics."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import bulk
from services.orchestrator.adapters.bulk import is_postgresql
from services.orchestrator.adapters.tables import decisions
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.state import LogEntry
from services.orchestrator.metrics import count_decisions
from trellis.db import json_dumps

_DECISION_COLUMNS: bulk.Columns = (
    ("contact_id", "text"), ("account_id", "text"), ("kind", "text"), ("reason", "text"),
    ("facts", "json"), ("event_id", "text"), ("playbook_version", "text"),
    ("decided_at", "timestamptz"),
)  # fmt: skip


async def add_decisions(conn: AsyncConnection, log: Sequence[LogEntry]) -> None:
    if not log:
        return
    count_decisions((e.kind, e.reason) for e in log)
    rows = [
        (e.contact_key, e.account_key, e.kind, e.reason, json_dumps(e.facts), e.event_id,
         e.playbook_version, e.decided_at)
        for e in log
    ]  # fmt: skip
    if is_postgresql(conn):
        await bulk.insert_rows(conn, "decisions", _DECISION_COLUMNS, rows)
    else:
        await conn.execute(decisions.insert(), bulk.executemany_params(_DECISION_COLUMNS, rows))


async def log_decisions(conn: AsyncConnection, records: Sequence[DecisionRecord]) -> None:
    """The one writer of ``DecisionRecord``s (planning, the scheduler, outcomes, the reminder
    clock, the ops API): counted for the metrics, then inserted."""
    if not records:
        return
    rows = [r.row() for r in records]
    count_decisions((str(r["kind"]), str(r["reason"])) for r in rows)
    if is_postgresql(conn):
        await bulk.insert_dicts(conn, decisions, rows)
    else:
        await conn.execute(decisions.insert(), rows)
