"""Ingest sources (producer credentials), admin only: list, add, rotate, disable, enable.

A write key or webhook secret is in the answer to ``add`` and ``rotate`` only, never in a list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StrictBool, model_validator
from sqlalchemy.exc import IntegrityError

from services.orchestrator.ops.auth import AdminKey
from services.orchestrator.ops.errors import conflict, invalid, not_found
from services.orchestrator.ops.models import answers
from services.orchestrator.ops.params import PathId
from services.orchestrator.ops.report_models import IssuedSource, SourceView
from trellis.sources import (
    Auth,
    Issued,
    Source,
    SourceKind,
    SourceMisconfigured,
    SourceNotFound,
    SqlAlchemySourceRepository,
)

MAX_RATE_LIMIT_PER_S = 100_000
"""Far above what one producer sends, far below where an integer column overflows (a bigger
number was a 500 from the database driver; now it is a 422)."""

router = APIRouter(prefix="/v1/sources", tags=["sources"])


def _repo(request: Request) -> SqlAlchemySourceRepository:
    return SqlAlchemySourceRepository(request.app.state.engine)


def _public(source: Source) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": source.id, "name": source.name, "kind": source.kind.value,
        "auth": source.auth.value, "disabled": source.disabled,
        "rate_limit_per_s": source.rate_limit_per_s,
    }  # fmt: skip
    if source.auth is Auth.WEBHOOK:
        out["active_secrets"] = len(source.secrets)
        where = "email/status" if source.kind is SourceKind.PROVIDER else "webhooks"
        out["webhook_url_path"] = f"/v1/{where}/{source.id}"
    return out


def _issued(issued: Issued) -> dict[str, Any]:
    what = "write_key" if issued.source.auth is Auth.WRITE_KEY else "webhook_secret"
    return {"source": _public(issued.source), what: issued.credential, "shown_once": True}


class SourceIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w.\-]+$")
    kind: SourceKind = Field(
        default=SourceKind.SDK, description="what it may assert (see the README's table)"
    )
    signed: StrictBool = Field(default=False, description="Standard Webhooks signature, not a key")
    rate_limit_per_s: int | None = Field(default=None, ge=1, le=MAX_RATE_LIMIT_PER_S)

    @model_validator(mode="before")
    @classmethod
    def _legacy_webhook_kind(cls, data: Any) -> Any:
        """``{"kind": "webhook"}`` (before kinds said what a source may assert): a signed
        ``server`` source, which is what the upgrade made of existing webhook sources."""
        if isinstance(data, dict) and data.get("kind") == "webhook":
            return {**data, "kind": SourceKind.SERVER.value, "signed": True}
        return data


@router.get("", **answers(list[SourceView]))
async def list_sources(_key: AdminKey, request: Request) -> list[dict[str, Any]]:
    return [_public(s) for s in await _repo(request).list()]


@router.post("", status_code=201, **answers(IssuedSource))
async def add_source(body: SourceIn, _key: AdminKey, request: Request) -> dict[str, Any]:
    try:
        issued = await _repo(request).add(
            body.name,
            body.kind,
            request.app.state.clock(),
            body.rate_limit_per_s,
            Auth.WEBHOOK if body.signed else Auth.WRITE_KEY,
        )
    except SourceMisconfigured as exc:
        raise invalid("body", "signed", str(exc)) from None
    except IntegrityError:
        raise conflict(f"a source named {body.name!r} already exists") from None
    return _issued(issued)


@router.post("/{source}/rotate", **answers(IssuedSource))
async def rotate_source(
    source: PathId, _key: AdminKey, request: Request, keep_previous: bool = True
) -> dict[str, Any]:
    """A new credential; webhook sources keep previous secrets valid unless told not to."""
    try:
        issued = await _repo(request).rotate(source, request.app.state.clock(), keep_previous)
    except SourceNotFound:
        raise not_found("source", source) from None
    return _issued(issued)


@router.post("/{source}/disable", **answers(SourceView))
async def disable_source(source: PathId, _key: AdminKey, request: Request) -> dict[str, Any]:
    try:
        return _public(await _repo(request).disable(source, request.app.state.clock()))
    except SourceNotFound:
        raise not_found("source", source) from None


@router.post("/{source}/enable", **answers(SourceView))
async def enable_source(source: PathId, _key: AdminKey, request: Request) -> dict[str, Any]:
    try:
        return _public(await _repo(request).disable(source, request.app.state.clock(), False))
    except SourceNotFound:
        raise not_found("source", source) from None


class KindIn(BaseModel):
    kind: SourceKind


@router.post("/{source}/kind", **answers(SourceView))
async def set_source_kind(
    source: PathId, body: KindIn, _key: AdminKey, request: Request
) -> dict[str, Any]:
    """Change what a source may assert; its credential stays."""
    try:
        changed = await _repo(request).set_kind(source, body.kind, request.app.state.clock())
    except SourceNotFound:
        raise not_found("source", source) from None
    except SourceMisconfigured as exc:
        raise invalid("body", "kind", str(exc)) from None
    return _public(changed)
