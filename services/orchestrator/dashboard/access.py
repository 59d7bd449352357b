"""Who is looking at the dashboard: the ops API's keys, carried by a cookie instead of a header.

A browser cannot send ``Authorization: Bearer`` on a link click, so the key is given once, in the
login form (a POST: never in a URL, where it would stay in history, proxy logs and ``Referer``
headers), and kept in an HttpOnly, SameSite=Strict cookie. Every request checks it
again with ``ops.auth.key_for``: a revoked key is out at once. Forms POST only from our own pages
(SameSite=Strict plus an ``Origin`` check), so another site cannot press a button for you.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.ops.auth import ApiKey, Scope, key_for

COOKIE = "trellis_ui_key"
COOKIE_MAX_AGE_S = 12 * 3600
PREFIX = "/ui"


class LoginNeeded(Exception):
    """No valid key: send the browser to the login form, then back to ``next_url``."""

    def __init__(self, next_url: str, problem: str = "") -> None:
        super().__init__(problem)
        self.next_url = next_url
        self.problem = problem


class NotAllowed(Exception):
    """A valid key whose scope does not allow this page or action."""


class CrossSite(Exception):
    """A form POST whose ``Origin`` is not this site."""


def safe_next(target: str | None) -> str:
    """Only dashboard paths are followed after login (no open redirect), never with a ``key``
    parameter (a key is not taken from an address, nor echoed into one)."""
    if not target or not target.startswith(PREFIX) or target.startswith("//"):
        return PREFIX + "/"
    path, _, query = target.partition("?")
    rest = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "key"]
    return path + (f"?{urlencode(rest)}" if rest else "")


def without_key(request: Request, drop: tuple[str, ...] = ("key",)) -> str:
    """The current URL (path and query) minus the ``key`` parameter (and any in ``drop``)."""
    rest = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
    return request.url.path + (f"?{urlencode(rest)}" if rest else "")


async def current_key(request: Request, engine: AsyncEngine) -> ApiKey:
    """The caller's active key, from the cookie; raises ``LoginNeeded`` otherwise."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise LoginNeeded(safe_next(without_key(request)))
    async with engine.connect() as conn:
        key = await key_for(conn, secret)
    if key is None:
        raise LoginNeeded(safe_next(without_key(request)), "That key is unknown or revoked.")
    return key


async def check_secret(engine: AsyncEngine, secret: str) -> ApiKey | None:
    async with engine.connect() as conn:
        return await key_for(conn, secret.strip())


def need(key: ApiKey, *scopes: Scope) -> None:
    if key.scope not in scopes:
        allowed = " or ".join(s.value for s in scopes)
        raise NotAllowed(f"This needs a key with scope {allowed}; yours is {key.scope.value}.")


def same_origin(request: Request) -> None:
    """Refuse a POST whose ``Origin`` (or, lacking it, ``Referer``) is another site."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if not claimed or claimed == "null":
        if claimed == "null":
            raise CrossSite("opaque origin")
        return  # non-browser clients send neither; the cookie is SameSite=Strict anyway
    parts = urlsplit(claimed)
    if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
        raise CrossSite(f"form posted from {parts.scheme}://{parts.netloc}")
