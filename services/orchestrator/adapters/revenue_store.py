"""The business facts the KPIs need, kept per event in ``revenue_facts``: deal amounts and
stages, seats, cancellations and NPS answers (the events themselves live on only as state
aggregates once past their lateness window).

``record`` runs in the batch's transaction with the events the inbox found fresh (and the
contact and account the batch resolved for each), so a replayed event adds nothing; ``load``
reads them back as ``RevenueFact``s.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.events import EngagementEvent
from services.orchestrator.adapters.tables import revenue_facts
from services.orchestrator.domain.kpis import RevenueFact

KINDS = frozenset({
    "deal_created", "deal_stage_changed", "deal_closed_won", "deal_closed_lost",
    "seats_changed", "subscription_cancelled", "nps_submitted",
})  # fmt: skip


MAX_AMOUNT = Decimal(10) ** 15


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _amount(value: object) -> str | None:
    """Exact decimal text; none for what no deal is (not finite, negative, beyond 10^15), so a
    sum can never overflow a JSON number."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return str(amount)[:40] if amount.is_finite() and 0 <= amount < MAX_AMOUNT else None


def _text(value: object, size: int) -> str | None:
    return value[:size] if isinstance(value, str) and value else None


def _when(value: object) -> datetime | None:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def row_of(
    event: EngagementEvent, contact_id: str | None, account_id: str | None
) -> dict[str, Any]:
    """The stored row of one revenue event (properties as ingest validated them)."""
    p = event.properties
    return {
        "event_id": event.id, "kind": event.type, "account_id": account_id,
        "contact_id": contact_id, "deal_id": _text(p.get("deal_id"), 200),
        "amount": _amount(p.get("amount")), "currency": _text(p.get("currency"), 3),
        "deal_stage": _text(p.get("stage"), 200), "seats": _int(p.get("seats")),
        "previous_seats": _int(p.get("previous_seats")), "score": _int(p.get("score")),
        "effective_at": _when(p.get("effective_at")), "occurred_at": event.time,
    }  # fmt: skip


async def record(
    conn: AsyncConnection,
    events: Iterable[EngagementEvent],
    contact_of: Mapping[str, str],
    account_of: Mapping[str, str | None],
) -> int:
    """Keep the revenue facts among a batch's fresh events; returns how many."""
    rows = [
        row_of(e, contact_of.get(e.id), account_of.get(e.id)) for e in events if e.type in KINDS
    ]
    if rows:
        await conn.execute(insert(revenue_facts), rows)
    return len(rows)


async def load(
    conn: AsyncConnection, until: datetime, accounts: Collection[str] | None = None
) -> list[RevenueFact]:
    """Every fact before ``until`` (of these accounts only, if given), oldest first."""
    t = revenue_facts.c
    query = select(revenue_facts).where(t.occurred_at < until).order_by(t.occurred_at, t.event_id)
    if accounts is not None:
        query = query.where(t.account_id.in_(list(accounts)))
    return [_fact(r) for r in await conn.execute(query)]


def fact_of(row: Mapping[str, Any]) -> RevenueFact:
    """A stored row (``row_of``) as the KPIs read it."""
    return _fact(_Row(row))


class _Row:
    def __init__(self, row: Mapping[str, Any]) -> None:
        self.__dict__.update(row)


def _fact(r: Any) -> RevenueFact:
    return RevenueFact(
        kind=r.kind, at=r.occurred_at, account=r.account_id, contact=r.contact_id,
        deal=r.deal_id, amount=None if r.amount is None else Decimal(r.amount),
        currency=r.currency, stage=r.deal_stage, seats=r.seats,
        previous_seats=r.previous_seats, score=r.score, effective_at=r.effective_at,
    )  # fmt: skip
