"""A send ledger of a given size for ``bench notifier``, and the notifier's CPU per message on it.

The ledger (SQLite, or a throwaway PostgreSQL database) is pre-filled with one bulk ``INSERT
... SELECT`` (random touch ids, as the orchestrator's hashed ids are: new rows land all over the
primary key's index), never through the pipeline, so a million rows take seconds. CPU is this
process's (``process_time``: the event loop and the SQLite driver's thread), while the SMTP
server runs in a process of its own.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stack import create_database, drop_database
from schemas.commands import DispatchTouch
from services.notifier.channels.base import SendResult
from services.notifier.channels.email import build_email
from services.notifier.channels.smtp_pool import SmtpConnectionPool
from services.notifier.render import RenderedMessage
from services.notifier.unsubscribe import UnsubscribeSigner
from trellis.db import create_engine
from trellis.migrate import upgrade_async

Dispatch = Callable[[list[tuple[DispatchTouch, int]]], Awaitable[None]]

SQLITE_PREFILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO send_ledger (touch_id, channel, status, attempts, provider_id, retryable,
                         topic_offset, created_at, updated_at)
SELECT 't_' || lower(hex(randomblob(20))), 'email', 'sent', 1, '<prefill@bench>', 0, i,
       datetime('now'), datetime('now')
FROM n
"""

POSTGRES_PREFILL = """
INSERT INTO send_ledger (touch_id, channel, status, attempts, provider_id, retryable,
                         topic_offset, created_at, updated_at)
SELECT 't_' || md5(random()::text || i::text), 'email', 'sent', 1, '<prefill@bench>', false, i,
       now(), now()
FROM generate_series(1, :rows) AS i
"""


@asynccontextmanager
async def ledger_of(rows: int, postgres: bool = False) -> AsyncIterator[AsyncEngine]:
    """A migrated database whose send ledger already holds ``rows`` finished sends: SQLite in
    a temporary directory, or a throwaway PostgreSQL database (dropped after)."""
    with tempfile.TemporaryDirectory() as tmp:
        name, url = await create_database() if postgres else ("", "")
        url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'ledger.db'}"
        try:
            await upgrade_async(url)
            engine = create_engine(url)
            try:
                await _prefill(engine, rows)
                yield engine
            finally:
                await engine.dispose()
        finally:
            if name:
                await drop_database(name)


async def _prefill(engine: AsyncEngine, rows: int) -> None:
    async with engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        await conn.execute(text(SQLITE_PREFILL if sqlite else POSTGRES_PREFILL), {"rows": rows})
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE" if sqlite else "ANALYZE send_ledger"))


async def ledger_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM send_ledger"))).scalar_one())


async def cpu_ms_per_message(
    dispatch: Dispatch, commands: list[tuple[DispatchTouch, int]], batch: int
) -> tuple[float, float]:
    """(CPU ms per message, messages per second) over dispatching ``commands`` in batches."""
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(commands), batch):
        await dispatch(commands[i : i + batch])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu * 1000 / len(commands), len(commands) / wall


class StdlibBuilt:
    """The baseline: each email built and flattened by the stdlib's ``EmailMessage``, as every
    email was before ``channels/mime.py``, over the same pooled connections."""

    def __init__(self, pool: SmtpConnectionPool, signer: UnsubscribeSigner) -> None:
        self.pool, self.signer = pool, signer

    async def send(self, touch: DispatchTouch, message: RenderedMessage) -> SendResult:
        now = datetime.now(UTC)
        url = self.signer.url(touch.contact_id, now)
        msg = build_email(touch, message, "Bench <bench@trellis.test>", "trellis.test", url, now)
        return await self.pool.send(msg)
