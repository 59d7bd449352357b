"""The consent ledger table: append-only rows, loaded per contact into the pure ``ConsentLedger``.

One table holds three kinds of row: consent entries (``granted`` / ``withdrawn`` for a channel,
with the ``actor`` who made them), suppressions (``do_not_contact``, ``unsubscribed``, ``stop``,
``hard_bounce``, ``complaint``; ``channel`` is ``all`` for do-not-contact) and ``refused``
grants (made after the recipient's opt-out by someone else: kept as evidence, never applied,
``refusal`` says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters import bulk
from services.orchestrator.adapters.tables import consent_ledger
from services.orchestrator.domain.channels import Channel
from services.orchestrator.domain.consent import (
    Actor,
    ConsentEntry,
    ConsentLedger,
    ConsentStatus,
    LedgerRow,
    Refusal,
    RefusedGrant,
    Suppression,
    SuppressionKind,
    admit_rows,
)

ALL_CHANNELS = "all"
REFUSED = "refused"


async def append(conn: AsyncConnection, rows: Sequence[LedgerRow]) -> None:
    if not rows:
        return
    await conn.execute(consent_ledger.insert(), [_values(row) for row in rows])


def _values(row: LedgerRow) -> dict[str, object]:
    item = row.item
    refusal: str | None = None
    if isinstance(item, RefusedGrant):
        refusal, item = item.reason.value, item.entry
        status, channel, actor = REFUSED, item.channel.value, item.actor.value
    elif isinstance(item, ConsentEntry):
        status, channel, actor = item.status.value, item.channel.value, item.actor.value
    else:
        status, actor = item.kind.value, None
        channel = item.blocks.value if item.blocks else ALL_CHANNELS
    return {
        "contact_id": item.contact_id,
        "channel": channel,
        "status": status,
        "source": item.source[:200],
        "evidence": item.evidence,
        "event_id": row.event_id,
        "recorded_at": item.recorded_at,
        "actor": actor,
        "refusal": refusal,
    }


@cache
def _ledger_rows(postgresql: bool) -> Select[Any]:
    """Built once per backend (``bulk.in_ids``): one prepared statement for any number of ids."""
    where = bulk.in_ids(consent_ledger.c.contact_id, postgresql)
    return select(consent_ledger).where(where).order_by(consent_ledger.c.id)


async def load(conn: AsyncConnection, contact_ids: Iterable[str]) -> dict[str, ConsentLedger]:
    wanted = sorted(set(contact_ids))
    entries: dict[str, list[ConsentEntry]] = {c: [] for c in wanted}
    suppressions: dict[str, list[Suppression]] = {c: [] for c in wanted}
    refused: dict[str, list[RefusedGrant]] = {c: [] for c in wanted}
    if wanted:
        rows = await conn.execute(_ledger_rows(bulk.is_postgresql(conn)), bulk.ids(conn, wanted))
        for r in rows.mappings():
            if r["status"] in (ConsentStatus.GRANTED, ConsentStatus.WITHDRAWN, REFUSED):
                refusal = r["refusal"]
                entry = ConsentEntry(
                    r["contact_id"],
                    Channel(r["channel"]),
                    ConsentStatus.GRANTED if refusal else ConsentStatus(r["status"]),
                    r["source"],
                    r["evidence"] or "",
                    r["recorded_at"],
                    Actor(r["actor"] or Actor.SOURCE),
                )
                if r["status"] == REFUSED:
                    refused[r["contact_id"]].append(RefusedGrant(entry, Refusal(refusal)))
                else:
                    entries[r["contact_id"]].append(entry)
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
    return {c: ConsentLedger(entries[c], suppressions[c], refused=refused[c]) for c in wanted}


async def record(conn: AsyncConnection, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    """Admit each change against the contact's ledger (``admit_rows``: a grant after the
    recipient's opt-out by anyone else becomes a refused row), append them, return what was
    written. The one way consent changes enter the ledger."""
    if not rows:
        return []
    written = admit_rows(await load(conn, {r.item.contact_id for r in rows}), rows)
    await append(conn, written)
    return written
