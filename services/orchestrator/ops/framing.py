"""No page of the ops app may be framed by another site (clickjacking).

``/docs`` and ``/redoc`` run Swagger UI and ReDoc with the caller's key typed in, and a reminder
link's page has a button that acts: framed under a decoy, a click there would be the caller's.
Every response gets ``X-Frame-Options: DENY`` (old browsers) and, unless the route already set a
Content-Security-Policy (the dashboard's is stricter and says ``frame-ancestors 'none'`` itself),
``frame-ancestors 'none'``. A plain ASGI middleware, so streaming responses pass untouched.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_OPTIONS = "DENY"
FRAME_POLICY = "frame-ancestors 'none'"


class NoFraming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-frame-options"] = FRAME_OPTIONS
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = FRAME_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
