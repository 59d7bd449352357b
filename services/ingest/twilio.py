"""Twilio-style request signatures: ``X-Twilio-Signature`` is base64 HMAC-SHA1, keyed by the
auth token, of the full URL followed by every POST parameter as ``name + value``, sorted by name.

Checked as Twilio's reference ``RequestValidator`` checks it: against the URL with the scheme's
default port spelled out (``https://host:443/...``) and without any port, so a signature over
either spelling is accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from fastapi import HTTPException, Request, status


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    payload = url + "".join(k + v for k, v in sorted(set(params)))  # as Twilio: each pair once
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_spellings(url: str) -> tuple[str, str]:
    """The URL with the default port added (when none is given) and with any port removed:
    the two forms the reference validator signs (``add_port`` / ``remove_port``)."""
    parts = urlsplit(url)
    bare = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    default = 443 if parts.scheme == "https" else 80
    with_port = parts.netloc if parts.port is not None else f"{bare}:{default}"
    return urlunsplit(parts._replace(netloc=with_port)), urlunsplit(parts._replace(netloc=bare))


def signature_matches(
    auth_token: str, url: str, params: Sequence[tuple[str, str]], given: str
) -> bool:
    """True if ``given`` signs ``params`` over either spelling of ``url``."""
    return bool(given) and any(
        hmac.compare_digest(given.encode(), twilio_signature(auth_token, u, params).encode())
        for u in url_spellings(url)
    )


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
    if not signature_matches(auth_token, public_url(request, public_base), params, given):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid X-Twilio-Signature")
    return dict(params)
