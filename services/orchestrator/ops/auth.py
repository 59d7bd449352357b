"""Ops API keys: issued once, stored as SHA-256, scoped ``admin`` / ``rep`` / ``read``.

Keys are 256-bit random tokens, so a plain SHA-256 makes a leaked table useless (nothing to
brute-force; same reasoning as ingest write keys). A ``rep`` key is bound to one rep address: it
sees and acts on that rep's reminders only. ``read`` never writes. ``admin`` does everything,
including sources (webhook credentials).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orchestrator.adapters.tables import api_keys

KEY_PREFIX = "tok_"


class Scope(StrEnum):
    ADMIN = "admin"
    REP = "rep"
    READ = "read"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scope: Scope
    rep: str | None
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str = field(repr=False)  # shown once, never stored


class KeyProblem(ValueError):
    pass


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(r: Any) -> ApiKey:
    return ApiKey(r.id, r.name, Scope(r.scope), r.rep, r.created_at, r.revoked_at)


async def issue_key(
    conn: AsyncConnection, scope: Scope, now: datetime, rep: str | None = None, name: str = ""
) -> IssuedKey:
    if scope is Scope.REP and not rep:
        raise KeyProblem("a rep key needs the rep's address (--rep)")
    if scope is not Scope.REP and rep:
        raise KeyProblem("only rep keys are bound to a rep")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey("key_" + uuid.uuid4().hex[:16], name or f"{scope}-key", scope, rep, now)
    await conn.execute(
        api_keys.insert().values(
            id=key.id, name=key.name, scope=scope.value, rep=rep, key_hash=hash_key(secret),
            created_at=now, revoked_at=None,
        )
    )  # fmt: skip
    return IssuedKey(key, secret)


async def list_keys(conn: AsyncConnection) -> list[ApiKey]:
    rows = await conn.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id))
    return [_row(r) for r in rows]


async def revoke_key(conn: AsyncConnection, key_id_or_name: str, now: datetime) -> int:
    """Revoke a key by id, or every active key with that name; returns how many."""
    result = await conn.execute(
        update(api_keys)
        .where(
            (api_keys.c.id == key_id_or_name) | (api_keys.c.name == key_id_or_name),
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(result.rowcount or 0)


async def key_for(conn: AsyncConnection, secret: str) -> ApiKey | None:
    """The active key with this secret, if any."""
    row = (
        await conn.execute(
            select(api_keys).where(
                api_keys.c.key_hash == hash_key(secret), api_keys.c.revoked_at.is_(None)
            )
        )
    ).first()
    return None if row is None else _row(row)


# --- FastAPI dependencies -------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="An ops API key: `trellis keys add`.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key, or a signed reminder link (``key`` is None)."""

    key: ApiKey | None

    @property
    def scope(self) -> Scope | None:
        return self.key.scope if self.key else None

    @property
    def rep(self) -> str | None:
        return self.key.rep if self.key else None

    @property
    def label(self) -> str:
        return f"key {self.key.name} ({self.key.id})" if self.key else "signed link"


def unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        {"error": "unauthorized", "message": message},
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(message: str, needs: tuple[Scope, ...] = ()) -> HTTPException:
    body: dict[str, object] = {"error": "forbidden", "message": message}
    if needs:
        body["required_scopes"] = [s.value for s in needs]
    return HTTPException(status.HTTP_403_FORBIDDEN, body)


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        return None
    async with request.app.state.engine.connect() as conn:
        key = await key_for(conn, credentials.credentials)
    if key is None:
        raise unauthorized("unknown or revoked API key")
    return Principal(key)


def require(*scopes: Scope) -> object:
    """A dependency: a valid key with one of ``scopes`` (401 without a key, 403 otherwise)."""

    async def check(
        principal: Annotated[Principal | None, Depends(optional_principal)],
    ) -> Principal:
        if principal is None:
            raise unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        if principal.scope not in scopes:
            needs = " or ".join(s.value for s in scopes)
            raise forbidden(
                f"this needs a key with scope {needs}; yours is {principal.scope}", scopes
            )
        return principal

    return Depends(check)


ANY = (Scope.ADMIN, Scope.REP, Scope.READ)
WRITERS = (Scope.ADMIN, Scope.REP)
ReadKey = Annotated[Principal, require(*ANY)]
WriteKey = Annotated[Principal, require(*WRITERS)]
AdminKey = Annotated[Principal, require(Scope.ADMIN)]
MaybeKey = Annotated[Principal | None, Depends(optional_principal)]
