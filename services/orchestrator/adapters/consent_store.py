"""The consent ledger table: append-only rows, loaded per contact into the pure ``ConsentLedger``.

One table holds both kinds of row: consent entries (``granted`` / ``withdrawn`` for a channel)
and suppressions (``do_not_contact``, ``unsubscribed``, ``stop``, ``hard_bounce``,
``complaint``); ``channel`` is ``all`` for do-not-contact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import consent_ledger
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    Suppression,
    SuppressionKind,
)

ALL_CHANNELS = "all"


@dataclass(frozen=True)
class LedgerRow:
    """What one appended row says, with the event or outcome id that caused it."""

    item: ConsentEntry | Suppression
    event_id: str | None


async def append(conn: AsyncConnection, rows: Sequence[LedgerRow]) -> None:
    if not rows:
        return
    values = []
    for row in rows:
        item = row.item
        if isinstance(item, ConsentEntry):
            status, channel = item.status.value, item.channel.value
        else:
            status = item.kind.value
            channel = item.blocks.value if item.blocks else ALL_CHANNELS
        values.append(
            {
                "contact_id": item.contact_id,
                "channel": channel,
                "status": status,
                "source": item.source[:200],
                "evidence": item.evidence,
                "event_id": row.event_id,
                "recorded_at": item.recorded_at,
            }
        )
    await conn.execute(consent_ledger.insert(), values)


async def load(conn: AsyncConnection, contact_ids: Iterable[str]) -> dict[str, ConsentLedger]:
    wanted = sorted(set(contact_ids))
    entries: dict[str, list[ConsentEntry]] = {c: [] for c in wanted}
    suppressions: dict[str, list[Suppression]] = {c: [] for c in wanted}
    if wanted:
        rows = await conn.execute(
            select(consent_ledger)
            .where(consent_ledger.c.contact_id.in_(wanted))
            .order_by(consent_ledger.c.id)
        )
        for r in rows.mappings():
            if r["status"] in (ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN):
                entries[r["contact_id"]].append(
                    ConsentEntry(
                        r["contact_id"],
                        Channel(r["channel"]),
                        ConsentStatus(r["status"]),
                        r["source"],
                        r["evidence"] or "",
                        r["recorded_at"],
                    )
                )
            else:
                channel = None if r["channel"] == ALL_CHANNELS else Channel(r["channel"])
                suppressions[r["contact_id"]].append(
                    Suppression(
                        r["contact_id"],
                        SuppressionKind(r["status"]),
                        r["source"],
                        r["evidence"] or "",
                        r["recorded_at"],
                        channel,
                    )
                )
    return {c: ConsentLedger(entries[c], suppressions[c]) for c in wanted}
