"""A short-lived cache of write key -> source, so the hot path skips a database round trip.

Off by default (``ingest_source_cache_s = 0``): disabling or rotating a source then takes
effect on the next request. With a TTL of N seconds it takes effect within N seconds per worker.
Concurrent misses for one key share one lookup (at expiry a busy worker would otherwise send
every in-flight request's lookup to the database at once).
"""

from __future__ import annotations

import asyncio
import time

from trellis.sources import Source, SqlAlchemySourceRepository

MAX_ENTRIES = 10_000


class CachedWriteKeys:
    def __init__(self, repo: SqlAlchemySourceRepository, ttl_s: float) -> None:
        self._repo = repo
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Source | None]] = {}
        self._loading: dict[str, asyncio.Future[Source | None]] = {}

    async def by_write_key(self, key: str) -> Source | None:
        if self._ttl_s <= 0:
            return await self._repo.by_write_key(key)
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load(key))
        return await asyncio.shield(loading)

    async def _load(self, key: str) -> Source | None:
        try:
            source = await self._repo.by_write_key(key)
        finally:
            del self._loading[key]
        if len(self._entries) >= MAX_ENTRIES:  # unknown keys must not grow it without bound
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self._ttl_s, source)
        return source
