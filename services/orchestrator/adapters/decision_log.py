"""The decision log's one table and its writers: ``log_decisions`` for ``DecisionRecord``s (touch
and reminder planning, the scheduler, outcomes, the reminder clock, the ops API) and
``add_decisions`` for the lifecycle's ``LogEntry``s. Both count what they write for the
metrics. ``Pending`` holds a unit of work's rows until its commit: one insert per batch however
many places log (``sql_uow``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import bulk, sqlite_bulk
from services.orchestrator.adapters.bulk import is_postgresql
from services.orchestrator.adapters.tables import decisions
from services.orchestrator.domain.records import DecisionRecord
from services.orchestrator.domain.state import LogEntry
from services.orchestrator.metrics import count_decisions
from trellis.db import json_dumps

_DECISION_COLUMNS: bulk.Columns = (
    ("contact_id", "text"), ("account_id", "text"), ("touch_id", "text"), ("kind", "text"),
    ("reason", "text"), ("facts", "json"), ("event_id", "text"), ("playbook_version", "text"),
    ("decided_at", "timestamptz"),
)  # fmt: skip


class Row(NamedTuple):
    """A decision in ``_DECISION_COLUMNS`` order (a tuple for the bulk insert), its facts still
    a dict; named, so the unit of work's readers of unsaved rows say which field they take."""

    contact_id: str | None
    account_id: str | None
    touch_id: str | None
    kind: str
    reason: str
    facts: Mapping[str, Any]
    event_id: str | None
    playbook_version: str
    decided_at: datetime


_FACTS = Row._fields.index("facts")
_INSERT = decisions.insert()


def entry_rows(log: Iterable[LogEntry]) -> list[Row]:
    return [
        Row(e.contact_key, e.account_key, None, e.kind, e.reason, e.facts, e.event_id,
            e.playbook_version, e.decided_at)
        for e in log
    ]  # fmt: skip


def record_rows(records: Iterable[DecisionRecord]) -> list[Row]:
    return [
        Row(r.contact_id, r.account_id, r.touch_id, str(r.kind), str(r.reason), dict(r.facts),
            r.event_id, r.playbook_version, r.decided_at)
        for r in records
    ]  # fmt: skip


async def insert(conn: AsyncConnection, rows: Sequence[Row]) -> None:
    """Counted for the metrics, then one statement (``unnest`` on PostgreSQL, else an
    executemany)."""
    if not rows:
        return
    count_decisions((str(r.kind), str(r.reason)) for r in rows)
    text = [(*r[:_FACTS], json_dumps(r[_FACTS]), *r[_FACTS + 1 :]) for r in rows]
    if is_postgresql(conn):
        await bulk.insert_rows(conn, "decisions", _DECISION_COLUMNS, text)
    else:
        await sqlite_bulk.insert_many(conn, "decisions", _INSERT, _DECISION_COLUMNS, text)


async def add_decisions(conn: AsyncConnection, log: Sequence[LogEntry]) -> None:
    await insert(conn, entry_rows(log))


async def log_decisions(conn: AsyncConnection, records: Sequence[DecisionRecord]) -> None:
    """The one writer of ``DecisionRecord``s (planning, the scheduler, outcomes, the reminder
    clock, the ops API): counted for the metrics, then inserted."""
    await insert(conn, record_rows(records))


class Pending:
    """Decisions logged in a unit of work and not yet inserted: readers of the log in the same
    unit of work see them after the stored ones (as their later ids would order them)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def where(self, kinds: Iterable[str], account_ids: Iterable[str], since: datetime) -> list[Row]:
        wanted, accounts = set(kinds), set(account_ids)
        return [
            r
            for r in self.rows
            if r.kind in wanted and r.account_id in accounts and r.decided_at > since
        ]

    async def flush(self, conn: AsyncConnection) -> None:
        rows, self.rows = self.rows, []
        await insert(conn, rows)
