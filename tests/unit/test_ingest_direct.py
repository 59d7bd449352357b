"""``IngestApp`` serves direct routes ahead of its middleware stack, keeping the app's exception
handlers, the middleware given to ``wrap_direct``, and going back through the whole stack when
FastAPI's OpenTelemetry instrumentation is configured."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.trace import NoOpTracerProvider
from starlette.types import ASGIApp, Receive, Scope, Send

from services.ingest.direct import DirectRoute, IngestApp


class Boom(Exception):
    pass


class SubBoom(Boom):
    pass


class Marker:
    """Records the path of every request that passes through it."""

    def __init__(self, app: ASGIApp, seen: list[str], name: str) -> None:
        self.app, self.seen, self.name = app, seen, name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{self.name} {scope['path']}")
        await self.app(scope, receive, send)


async def hot(request: Request) -> Response:
    what = request.query_params.get("raise")
    if what == "http":
        raise HTTPException(429, "slow down", headers={"Retry-After": "3"})
    if what == "sub":
        raise SubBoom()
    if what == "other":
        raise RuntimeError("a bug")
    body = await request.body()
    return Response(body[::-1], 202, media_type="text/plain")


def build(seen: list[str], **kwargs: object) -> IngestApp:
    app = IngestApp(**kwargs)  # type: ignore[arg-type]
    app.add_middleware(Marker, seen=seen, name="stack")
    wrap: Callable[[ASGIApp], ASGIApp] = lambda inner: Marker(inner, seen, "direct")  # noqa: E731
    app.wrap_direct(wrap)
    app.add_direct_route("/v1/hot", hot, methods=["POST"], status_code=202)

    @app.exception_handler(Boom)
    async def _boom(_request: Request, exc: Boom) -> JSONResponse:
        return JSONResponse({"boom": type(exc).__name__}, status_code=418)

    @app.get("/cold")
    async def cold() -> dict[str, str]:
        return {"ok": "cold"}

    return app


def client(app: IngestApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://ingest")


async def test_a_direct_route_skips_the_stack_but_keeps_its_own_middleware() -> None:
    seen: list[str] = []
    async with client(build(seen)) as http:
        hot_answer = await http.post("/v1/hot", content=b"abc")
        cold_answer = await http.get("/cold")
        wrong_method = await http.get("/v1/hot")
    assert (hot_answer.status_code, hot_answer.text) == (202, "cba")
    assert cold_answer.json() == {"ok": "cold"}
    assert wrong_method.status_code == 405  # other methods fall through to the router
    assert seen == ["direct /v1/hot", "stack /cold", "stack /v1/hot"]


async def test_the_apps_exception_handlers_answer_for_a_direct_route() -> None:
    async with client(build([])) as http:
        limited = await http.post("/v1/hot?raise=http")
        sub = await http.post("/v1/hot?raise=sub")
        bug = await http.post("/v1/hot?raise=other")
    assert limited.status_code == 429 and limited.json() == {"detail": "slow down"}
    assert limited.headers["retry-after"] == "3"
    assert sub.status_code == 418 and sub.json() == {"boom": "SubBoom"}  # found by MRO
    assert bug.status_code == 500  # unhandled: the server answers, as behind ServerErrorMiddleware


async def test_a_handler_registered_for_a_status_code_wins_as_in_starlette() -> None:
    app = build([])

    @app.exception_handler(429)
    async def _too_many(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"later": exc.detail}, status_code=429)

    async with client(app) as http:
        limited = await http.post("/v1/hot?raise=http")
    assert limited.json() == {"later": "slow down"}


async def test_a_direct_route_is_documented_like_any_other() -> None:
    app = build([])
    route = next(r for r in app.routes if getattr(r, "path", None) == "/v1/hot")
    assert isinstance(route, DirectRoute)
    async with client(app) as http:
        spec = (await http.get("/openapi.json")).json()
    assert "post" in spec["paths"]["/v1/hot"]


async def test_configured_telemetry_sends_direct_routes_through_the_stack() -> None:
    assert build([]).telemetry_configured() is False
    seen: list[str] = []
    traced = build(seen, telemetry={"tracer_provider": NoOpTracerProvider()})
    assert traced.telemetry_configured() is True
    traced.direct_enabled = False  # what the ingest lifespan does when this is True
    async with client(traced) as http:
        answer = await http.post("/v1/hot", content=b"xy")
    assert (answer.status_code, answer.text) == (202, "yx")
    assert seen == ["stack /v1/hot"]
