"""What the ops API's read functions share: the clock default, rows as dicts, the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import consent_store
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import ConsentLedger, LegalBasis

Bases = Mapping[Channel, LegalBasis] | None


def now_or_utc(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def rows(conn: AsyncConnection, query: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def ledger_of(conn: AsyncConnection, contact_id: str, bases: Bases) -> ConsentLedger:
    ledger = (await consent_store.load(conn, [contact_id]))[contact_id]
    return ConsentLedger(ledger.entries, ledger.suppressions, bases) if bases else ledger
