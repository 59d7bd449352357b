"""Who is sending: write-key sources by HTTP Basic username, webhook sources by Standard Webhooks
signature. 401 for wrong or missing credentials, 403 for a disabled source. What a source may
then assert is its kind's business (``Pipeline.accept``).

Credentials never reach a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.ingest.body import read_raw
from services.ingest.ratelimit import enforce_rate_limit
from services.ingest.source_cache import CachedWriteKeys
from trellis.sources import (
    Auth,
    Source,
    SourceKind,
    SourceNotFound,
    SqlAlchemySourceRepository,
)

UNAUTHORIZED = HTTPException(
    status.HTTP_401_UNAUTHORIZED,
    "missing or invalid credentials",
    headers={"WWW-Authenticate": 'Basic realm="trellis"'},
)
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
FORBIDDEN = HTTPException(status.HTTP_403_FORBIDDEN, "source is disabled")
BAD_SIGNATURE = HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid signature")
PROVIDER_ONLY = HTTPException(
    status.HTTP_403_FORBIDDEN,
    "delivery callbacks need a provider credential (a source of kind provider), "
    "not a producer's key",
)


def write_key_from(authorization: str | None) -> str | None:
    """The username of an HTTP Basic header (``base64("<key>:")``), or None."""
    if not authorization:
        return None
    return _basic_username(authorization)


@functools.lru_cache(maxsize=1024)  # an SDK sends the same header on every request
def _basic_username(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key = decoded.partition(":")[0]
    return key or None


def signature_valid(secrets: tuple[str, ...], headers: Mapping[str, str], body: bytes) -> bool:
    """True if any active secret signed this body within the 5-minute tolerance."""
    wanted = {
        k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")
    }
    for secret in secrets:
        try:
            Webhook(secret).verify(body, wanted, json_parse=False)
        except (WebhookVerificationError, ValueError):  # malformed headers raise ValueError
            continue
        return True
    return False


async def get_sources(request: Request) -> SqlAlchemySourceRepository:
    repo: SqlAlchemySourceRepository = request.app.state.sources
    return repo


SourcesDep = Annotated[SqlAlchemySourceRepository, Depends(get_sources)]


async def keyed_source(request: Request) -> Source:
    """The source of a write key (cached per ``ingest_source_cache_s``), rate limited.

    Also called directly by the hot ``POST /v1/events`` route (no dependency injection there)."""
    key = write_key_from(request.headers.get("authorization"))
    write_keys: CachedWriteKeys = request.app.state.write_keys
    source = None if key is None else await write_keys.by_write_key(key)
    if source is None or source.auth is not Auth.WRITE_KEY:
        raise UNAUTHORIZED
    if source.disabled:
        raise FORBIDDEN
    enforce_rate_limit(request, source)
    return source


async def webhook_source(source_id: str, request: Request, repo: SourcesDep) -> Source:
    try:
        source = await repo.get(source_id)
    except SourceNotFound:
        raise BAD_SIGNATURE from None
    if source.auth is not Auth.WEBHOOK:
        raise BAD_SIGNATURE
    # Signed over the body as sent; kept for the route so the stream is read once, capped.
    request.state.raw_body = await read_raw(
        request, request.app.state.settings.ingest_max_body_bytes
    )
    if not signature_valid(source.secrets, request.headers, request.state.raw_body):
        raise BAD_SIGNATURE
    if source.disabled:
        raise FORBIDDEN
    enforce_rate_limit(request, source)
    return source


KeyedSourceDep = Annotated[Source, Depends(keyed_source)]
WebhookSourceDep = Annotated[Source, Depends(webhook_source)]


async def provider_source(request: Request) -> Source:
    """A delivery callback's sender by write key: only a ``provider`` source may report
    bounces and complaints (they suppress a contact)."""
    source = await keyed_source(request)
    if source.kind is not SourceKind.PROVIDER:
        raise PROVIDER_ONLY
    return source


async def signed_provider_source(source_id: str, request: Request, repo: SourcesDep) -> Source:
    """The same, signed with the provider source's webhook secret (rotated with overlap)."""
    source = await webhook_source(source_id, request, repo)
    if source.kind is not SourceKind.PROVIDER:
        raise PROVIDER_ONLY
    return source


ProviderSourceDep = Annotated[Source, Depends(provider_source)]
SignedProviderSourceDep = Annotated[Source, Depends(signed_provider_source)]
