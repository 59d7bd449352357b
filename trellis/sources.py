"""Per-source credentials: write keys (stored as SHA-256 hashes) and webhook secrets, and the
source's kind, which says what it may assert (``schemas.vocabulary.MAY_ASSERT``).

Write keys are 192-bit random tokens, so a plain SHA-256 is enough to make a leaked table useless
(no slow hash needed: there is nothing to brute-force). Webhook secrets must stay usable for
HMAC verification, so they are stored as issued; several may be active during a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.vocabulary import SourceKind
from trellis.db import transaction
from trellis.source_table import sources

__all__ = ["Auth", "Issued", "Source", "SourceKind", "SourceNotFound", "SqlAlchemySourceRepository"]

WRITE_KEY_PREFIX = "wk_"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
MAX_ACTIVE_SECRETS = 3


class Auth(StrEnum):
    """How a source proves who it is: a write key (HTTP Basic username) or a Standard Webhooks
    signature with its secret."""

    WRITE_KEY = "write_key"
    WEBHOOK = "webhook"


class SourceMisconfigured(ValueError):
    """A kind and an auth that do not go together (an ``sdk`` key is public: never signed)."""


def check_combination(kind: SourceKind, auth: Auth) -> None:
    if kind is SourceKind.SDK and auth is Auth.WEBHOOK:
        raise SourceMisconfigured(
            "sdk sources use a write key (it sits in web pages); "
            "a signed webhook is a server, crm or consent source"
        )


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    kind: SourceKind
    disabled: bool
    rate_limit_per_s: int | None
    secrets: tuple[str, ...] = field(default=(), repr=False)  # never in a repr or a log line
    auth: Auth = Auth.WRITE_KEY


@dataclass(frozen=True)
class Issued:
    """A newly issued credential: shown once, never stored in clear (write keys)."""

    source: Source
    credential: str = field(repr=False)


class SourceNotFound(LookupError):
    pass


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def hash_write_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _row_to_source(row: Any) -> Source:
    return Source(
        id=row.id,
        name=row.name,
        kind=SourceKind(row.kind),
        disabled=bool(row.disabled),
        rate_limit_per_s=row.rate_limit_per_s,
        secrets=tuple(row.secrets or ()),
        auth=Auth(row.auth),
    )


class SqlAlchemySourceRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(
        self,
        name: str,
        kind: SourceKind,
        now: datetime,
        rate_limit_per_s: int | None = None,
        auth: Auth = Auth.WRITE_KEY,
    ) -> Issued:
        check_combination(kind, auth)
        keyed = auth is Auth.WRITE_KEY
        credential = new_write_key() if keyed else new_webhook_secret()
        source_id = "src_" + uuid.uuid4().hex[:16]
        async with transaction(self._engine) as conn:
            await conn.execute(
                sources.insert().values(
                    id=source_id,
                    name=name,
                    kind=kind.value,
                    auth=auth.value,
                    write_key_hash=hash_write_key(credential) if keyed else None,
                    secrets=[] if keyed else [credential],
                    rate_limit_per_s=rate_limit_per_s,
                    disabled=False,
                    created_at=now,
                    updated_at=now,
                )
            )
        return Issued(await self.get(name), credential)

    async def list(self) -> list[Source]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(sources).order_by(sources.c.name))
            return [_row_to_source(r) for r in rows]

    async def get(self, name_or_id: str) -> Source:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sources).where(
                        (sources.c.name == name_or_id) | (sources.c.id == name_or_id)
                    )
                )
            ).first()
        if row is None:
            raise SourceNotFound(name_or_id)
        return _row_to_source(row)

    async def by_write_key(self, key: str) -> Source | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sources).where(sources.c.write_key_hash == hash_write_key(key))
                )
            ).first()
        return None if row is None else _row_to_source(row)

    async def rotate(self, name_or_id: str, now: datetime, keep_previous: bool = True) -> Issued:
        """A new credential. Write keys: the old one stops at once. Webhook sources: the
        new secret signs from now; previous ones stay valid (up to ``MAX_ACTIVE_SECRETS``)
        unless ``keep_previous`` is false."""
        source = await self.get(name_or_id)
        if source.auth is Auth.WRITE_KEY:
            credential = new_write_key()
            values: dict[str, Any] = {"write_key_hash": hash_write_key(credential)}
        else:
            credential = new_webhook_secret()
            kept = list(source.secrets[: MAX_ACTIVE_SECRETS - 1]) if keep_previous else []
            values = {"secrets": [credential, *kept]}
        await self._update(source.id, now, **values)
        return Issued(await self.get(source.id), credential)

    async def set_kind(self, name_or_id: str, kind: SourceKind, now: datetime) -> Source:
        """Change what a source may assert (its credential stays)."""
        source = await self.get(name_or_id)
        check_combination(kind, source.auth)
        await self._update(source.id, now, kind=kind.value)
        return await self.get(source.id)

    async def disable(self, name_or_id: str, now: datetime, disabled: bool = True) -> Source:
        source = await self.get(name_or_id)
        await self._update(source.id, now, disabled=disabled)
        return await self.get(source.id)

    async def _update(self, source_id: str, now: datetime, **values: Any) -> None:
        async with transaction(self._engine) as conn:
            await conn.execute(
                update(sources).where(sources.c.id == source_id).values(updated_at=now, **values)
            )
