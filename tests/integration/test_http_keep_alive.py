"""Our HTTP servers keep an idle connection longer than clients keep one in their pools, so a
client never reuses a connection the server is closing at that moment (a reset, ``ReadError``,
for a request the server never read: uvicorn's default of 5 s equals httpx's pool expiry, and
a CI run failed on that race)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services.notifier.http import serve_http
from trellis.broker import free_port
from trellis.settings import SERVER_KEEP_ALIVE_S


def _local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


@pytest.mark.asyncio(loop_scope="session")
async def test_an_idle_connection_outlives_uvicorns_default_keep_alive() -> None:
    assert SERVER_KEEP_ALIVE_S > 60  # above load balancers' usual idle timeout too
    app = Starlette(routes=[Route("/", lambda _: PlainTextResponse("ok"))])
    port, stop = free_port(), asyncio.Event()
    serving = asyncio.create_task(serve_http(app, "127.0.0.1", port, stop))
    limits = httpx.Limits(keepalive_expiry=30)  # the client would reuse it for 30 s
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as c:
            for _ in range(100):
                try:
                    first = await c.get("/")
                    ports = [_local_port(first)]
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(6.5)  # past uvicorn's default timeout_keep_alive (5 s)
            second = await c.get("/")
            ports.append(_local_port(second))
        assert first.text == second.text == "ok"
        assert ports[0] == ports[1], "the server closed the idle connection"
    finally:
        stop.set()
        await serving
