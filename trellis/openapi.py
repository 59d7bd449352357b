"""A FastAPI app's OpenAPI document, completed with what its routes' signatures do not show,
and the answers that must agree with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.responses import JSONResponse
from starlette.routing import Match

Spec = dict[str, Any]


def complete_openapi(app: FastAPI, complete: Callable[[Spec], Spec]) -> None:
    """``app.openapi()`` answers FastAPI's document passed through ``complete``, built once when
    first asked for (as FastAPI's own is), so an app that nobody documents pays nothing."""
    generate = app.openapi

    def openapi() -> Spec:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def method_not_allowed(request: Request, _exc: Exception) -> Response:
    """405 whose ``Allow`` lists every method of the path: Starlette names only those of the
    first route it matched (``GET`` and ``POST`` as two routes: ``Allow: GET``). Each method is
    tried against the app's routes, as the router would match it.
    Registered with ``app.add_exception_handler(405, method_not_allowed)``."""
    scope = request.scope
    probe = {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", "")}
    allowed = [
        method
        for method in METHODS
        if any(r.matches({**probe, "method": method})[0] is Match.FULL for r in request.app.routes)
    ]
    return JSONResponse(
        {"detail": "Method Not Allowed"},
        status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(allowed)},
    )
