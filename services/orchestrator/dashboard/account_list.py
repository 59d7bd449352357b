"""The dashboard's account list: sortable by name, stage (funnel order), score and last
activity (the newest engagement of any of its people), searchable by name or domain, in pages
of ``PAGE_SIZE`` (numbered: a sort by score has no stable cursor to resume from). Accounts
merged into another are left out: the survivor carries their people and domain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import accounts, contacts
from services.orchestrator.domain.stages import Stage
from trellis.message_templates import account_label

PAGE_SIZE = 50
SORTS = ("name", "stage", "score", "activity")
MAX_SEARCH = 200


@dataclass(frozen=True)
class AccountListing:
    rows: list[dict[str, Any]]
    more: bool


def like_pattern(text: str) -> str:
    """``text`` anywhere, its ``%`` and ``_`` taken literally (escape ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def account_listing(
    conn: AsyncConnection,
    search: str = "",
    stage: str | None = None,
    sort: str = "name",
    descending: bool = False,
    page: int = 1,
) -> AccountListing:
    last = (
        select(contacts.c.account_id, func.max(contacts.c.last_event_at).label("last_activity"))
        .where(contacts.c.account_id.is_not(None))
        .group_by(contacts.c.account_id)
        .subquery()
    )
    funnel = case({s.value: i for i, s in enumerate(Stage)}, value=accounts.c.stage, else_=99)
    keys = {
        "name": func.lower(func.coalesce(accounts.c.name, accounts.c.domain, accounts.c.id)),
        "stage": funnel,
        "score": accounts.c.score,
        "activity": last.c.last_activity,
    }
    key = keys[sort if sort in keys else "name"]
    query = select(
        accounts.c.id, accounts.c.name, accounts.c.domain, accounts.c.stage, accounts.c.score,
        accounts.c.owner_rep, accounts.c.stage_entered_at, last.c.last_activity,
    ).outerjoin(last, last.c.account_id == accounts.c.id)  # fmt: skip
    query = query.where(accounts.c.merged_into.is_(None))  # a merged-away company is its survivor
    if search.strip():
        pattern = like_pattern(search.strip()[:MAX_SEARCH].lower())
        query = query.where(
            or_(
                func.lower(accounts.c.name).like(pattern, escape="\\"),
                func.lower(accounts.c.domain).like(pattern, escape="\\"),
            )
        )
    if stage:
        query = query.where(accounts.c.stage == stage)
    ordered = (key.desc() if descending else key.asc()).nulls_last()
    query = query.order_by(ordered, accounts.c.id).offset((page - 1) * PAGE_SIZE)
    rows = [dict(r) for r in (await conn.execute(query.limit(PAGE_SIZE + 1))).mappings()]
    for r in rows:
        r["label"] = account_label(r["name"], r["domain"])
    return AccountListing(rows[:PAGE_SIZE], len(rows) > PAGE_SIZE)
