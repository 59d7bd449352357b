"""Provider rate limits shared by every notifier instance: a GCRA budget row in the database.

Each reservation is one atomic ``UPDATE ... RETURNING`` (no lock held while waiting): it moves the
provider's theoretical arrival time (``tat``) forward by one slot, or by ``n`` slots for a whole
batch, and hands back when each send may go; the caller sleeps until then (back-pressure, never
a drop). Instances on several machines
share one budget as long as their clocks are NTP-synchronised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import case, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.retry import Sleep
from services.notifier.tables import rate_budget


@dataclass
class SqlRateLimiter:
    engine: AsyncEngine
    provider: str
    rate_per_s: float
    burst: int = 1
    wall: Callable[[], float] = time.time
    sleep: Sleep = asyncio.sleep
    _ready: bool = field(default=False, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def reserve(self) -> float:
        """Reserve the next send slot; return its wall-clock time (epoch seconds)."""
        return (await self.reserve_many(1))[0]

    async def reserve_many(self, n: int) -> list[float]:
        """Reserve ``n`` consecutive slots in one transaction; their wall-clock times."""
        if n < 1:
            return []
        interval = 1.0 / self.rate_per_s
        now = self.wall()
        floor = now - (self.burst - 1) * interval
        if not self._ready:
            await self._ensure_row(floor)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(rate_budget)
                .where(rate_budget.c.provider == self.provider)
                .values(
                    tat=case((rate_budget.c.tat > floor, rate_budget.c.tat), else_=floor)
                    + n * interval
                )
                .returning(rate_budget.c.tat)
            )
            tat = float(result.scalar_one())
        return [tat - (n - i) * interval for i in range(n)]

    async def _ensure_row(self, tat: float) -> None:
        # Committed before any reservation: a concurrent reservation must see the row.
        async with self._lock:
            if self._ready:
                return
            async with self.engine.begin() as conn:
                insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                await conn.execute(
                    insert(rate_budget)
                    .values(provider=self.provider, tat=tat)
                    .on_conflict_do_nothing(index_elements=[rate_budget.c.provider])
                )
            self._ready = True

    async def wait(self) -> None:
        """Block until this instance may make one more provider call."""
        await self.wait_until(await self.reserve())

    async def wait_until(self, slot: float) -> None:
        """Block until a slot reserved earlier (``reserve_many``) comes."""
        delay = slot - self.wall()
        if delay > 0:
            await self.sleep(delay)
