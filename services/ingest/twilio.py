"""Twilio-style request signatures: ``X-Twilio-Signature`` is base64 HMAC-SHA1, keyed by the
auth token, of the full URL followed by every POST parameter as ``name + value``, sorted by name."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

from fastapi import HTTPException, Request, status


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    payload = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def public_url(request: Request, public_base: str | None) -> str:
    """The URL the provider called: behind a proxy, our configured public base + path + query."""
    if not public_base:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return public_base.rstrip("/") + request.url.path + query


async def verified_form(
    request: Request, auth_token: str, public_base: str | None
) -> dict[str, str]:
    """The form fields of a correctly signed provider callback; 401 otherwise."""
    form = await request.form()
    params = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    given = request.headers.get("x-twilio-signature", "")
    expected = twilio_signature(auth_token, public_url(request, public_base), params)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid X-Twilio-Signature")
    return dict(params)
