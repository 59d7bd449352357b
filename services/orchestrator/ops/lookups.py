"""Exact lookups for the ops API and the dashboard's search box: a contact by email or external
id, an account by domain or external id, each through an index.

Contacts are found through their identity aliases, keyed the way identity resolution keys them
(``email:`` lower-cased, ``ext:`` as given), so a merged-away contact's address finds the
survivor. Accounts through their unique ``domain`` / ``external_id`` columns; a domain left on a
merged-away account (``merged_into``) finds the account it was merged into.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import accounts, identity_aliases
from services.orchestrator.domain.identity import normal_domain


def contact_aliases(email: str | None, external_id: str | None) -> list[str]:
    """The aliases a contact known by ``email`` and/or ``external_id`` holds."""
    out = []
    if external_id is not None:
        out.append("ext:" + external_id)
    if email is not None:
        out.append("email:" + email.strip().lower())
    return out


def domain_key(domain: str) -> str:
    """A typed domain as accounts store it (lower case, no ``www.``)."""
    return normal_domain(domain.strip()) or ""


def account_known_by(column: Any, value: str) -> Select[Any]:
    """The id of the account ``column`` = ``value`` names, following a merge."""
    return select(func.coalesce(accounts.c.merged_into, accounts.c.id)).where(column == value)


async def contact_by_email(conn: AsyncConnection, email: str) -> str | None:
    """The contact id known by ``email`` (the dashboard's search box)."""
    (alias,) = contact_aliases(email, None)
    found = select(identity_aliases.c.contact_id).where(identity_aliases.c.alias == alias)
    return await conn.scalar(found)


async def account_by_domain(conn: AsyncConnection, domain: str) -> str | None:
    """The account id known by ``domain`` (the dashboard's search box)."""
    key = domain_key(domain)
    return await conn.scalar(account_known_by(accounts.c.domain, key)) if key else None
