"""Which databases ``trellis migrate`` and ``trellis dev`` migrate: the orchestrator's and the
notifier's, when the notifier has one of its own (``TRELLIS_NOTIFIER_DATABASE_URL``, or on SQLite
the file beside the orchestrator's).

Both get the same migrations, every head. One schema history is simpler to reason about than
two: the online-upgrade rules, the start-up check that refuses an un-migrated database and
``migrate --down`` hold for both as they are, and the foundation revision (which every existing
database carries) already creates all tables, the send ledger among them. The cost is the other
service's tables standing empty in each database; nothing reads them there.

A database that had the ledger before it moved out keeps its rows until the new one has its own:
the first migration of an empty notifier database copies them over, so a touch sent before the
move is still never sent again.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.settings import NotifierDatabase
from services.notifier.tables import rate_budget, send_ledger
from trellis.db import create_engine
from trellis.migrate import HEADS, downgrade_async, upgrade_async

CHUNK = 5_000


def database_urls(settings: NotifierDatabase) -> list[str]:
    """The orchestrator's database first, then the notifier's when it is another one."""
    shared, own = settings.shared_database_url, settings.resolved_database_url
    return [shared] if own == shared else [shared, own]


async def migrate_all(settings: NotifierDatabase, revision: str = HEADS) -> list[str]:
    """Upgrade every database to ``revision``; carry the ledger into a new notifier database."""
    urls = database_urls(settings)
    for url in urls:
        await upgrade_async(url, revision)
    if len(urls) == 2:
        await carry_ledger(urls[0], urls[1])
    return urls


async def downgrade_all(settings: NotifierDatabase, revision: str) -> list[str]:
    urls = database_urls(settings)
    for url in urls:
        await downgrade_async(url, revision)
    return urls


async def carry_ledger(from_url: str, to_url: str) -> int:
    """Copy the send ledger and rate budget from ``from_url`` into ``to_url`` if the latter's
    ledger is empty; returns the ledger rows copied."""
    source, target = create_engine(from_url), create_engine(to_url)
    try:
        if await _count(target) or not await _count(source):
            return 0
        copied = 0
        async with source.connect() as src, target.begin() as dst:
            for table, key in ((send_ledger, send_ledger.c.touch_id),
                               (rate_budget, rate_budget.c.provider)):  # fmt: skip
                result = await src.stream(select(table).order_by(key))
                async for rows in result.mappings().partitions(CHUNK):
                    await dst.execute(insert(table), [dict(r) for r in rows])
                    copied += len(rows) if table is send_ledger else 0
        return copied
    finally:
        await source.dispose()
        await target.dispose()


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(send_ledger))).scalar_one())
