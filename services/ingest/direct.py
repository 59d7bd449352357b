"""Hot routes: endpoints that take the ``Request`` and return a ``Response``, served directly.

FastAPI's request handler solves dependencies, builds a sub-response and serialises a response
model on every request: measured at about half of a bare route's CPU. ``DirectRoute`` skips that
and stays a documented path operation (``response_model``, ``openapi_extra``).

``IngestApp`` goes one step further for the hottest of them (``POST /v1/events``): it serves
them ahead of the middleware stack. Profiled under ``bench/ingest.py`` (py-spy), the layers in
front of a route (server errors, telemetry, two body limits, exception handling, exit stack,
router) cost a single-event request about as much CPU as our own work does. A direct route
keeps what those layers give it: the app's exception handlers (looked up the same way, by the
exception's MRO), our observability middleware (request id, metrics, access log), the body cap
(the endpoint reads through ``read_raw``), and an unhandled error still reaches the server as a
500. Not kept: FastAPI's OpenTelemetry instrumentation; when a tracer, meter or logger provider
is configured at startup, direct routes go through the whole stack again so they are traced.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


class IngestApp(FastAPI):
    """A FastAPI app whose direct routes are served before its middleware stack is entered."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._direct: dict[tuple[str, str], DirectRoute] = {}
        self._serve_direct: ASGIApp = self._dispatch
        self.direct_enabled = True

    def add_direct_route(self, path: str, endpoint: Endpoint, **kwargs: Any) -> DirectRoute:
        """Register ``endpoint`` as a documented path operation, served directly."""
        self.router.add_api_route(path, endpoint, route_class_override=DirectRoute, **kwargs)
        route = self.router.routes[-1]
        assert isinstance(route, DirectRoute)
        for method in route.methods or ():
            self._direct[(method, path)] = route
        return route

    def wrap_direct(self, middleware: Callable[[ASGIApp], ASGIApp]) -> None:
        """Put a middleware around the direct routes (the app's own stack does not apply)."""
        self._serve_direct = middleware(self._serve_direct)

    def telemetry_configured(self) -> bool:
        """True if FastAPI's native OpenTelemetry instrumentation would record requests."""
        telemetry = getattr(self, "_native_telemetry", None)
        enabled = getattr(telemetry, "enabled", None)
        return bool(enabled()) if callable(enabled) else False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.direct_enabled:
            route = self._direct.get((scope["method"], scope["path"]))
            if route is not None:
                scope["app"] = self
                scope["route"] = route
                await self._serve_direct(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        route: DirectRoute = scope["route"]
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # the server answers 500 and logs it, as behind ServerErrorMiddleware
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[..., Any] | None:
        """As Starlette's ``ExceptionMiddleware``: a handler for the HTTP status first, then
        the nearest class in the exception's MRO."""
        if isinstance(exc, StarletteHTTPException):
            by_status = self.exception_handlers.get(exc.status_code)
            if by_status is not None:
                return by_status
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None
