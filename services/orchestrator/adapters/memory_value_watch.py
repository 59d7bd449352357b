"""The time-to-value watches of the in-memory unit of work: what ``value_watch_store`` keeps,
in a dictionary (state documents round-tripped as the table stores them, so simulate reads
exactly what live would)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.orchestrator.adapters.value_watch_store import Checked
from services.orchestrator.domain.value_watch import ValueWatch, from_dict, to_dict


class MemoryValueWatches:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[dict[str, Any], datetime | None]] = {}

    async def load(self, account_ids: Iterable[str]) -> dict[str, ValueWatch]:
        return {
            a: from_dict(a, self.rows[a][0]) for a in sorted(set(account_ids)) if a in self.rows
        }

    async def due(self, now: datetime, limit: int) -> list[ValueWatch]:
        due = sorted((at, a) for a, (_, at) in self.rows.items() if at is not None and at <= now)
        return [from_dict(a, self.rows[a][0]) for _, a in due[:limit]]

    async def save(self, checked: Sequence[Checked], now: datetime) -> None:
        for w, at in checked:
            self.rows[w.account_id] = (to_dict(w), at)

    async def retire(self, account_ids: Sequence[str]) -> None:
        for a in account_ids:
            self.rows.pop(a, None)

    def next_check(self) -> datetime | None:
        """The earliest time a watch is due (simulate stops the clock there)."""
        return min((at for _, at in self.rows.values() if at is not None), default=None)

    def watches(self) -> list[ValueWatch]:
        return [from_dict(a, state) for a, (state, _) in sorted(self.rows.items())]
