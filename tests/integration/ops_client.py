"""The ops API served over real HTTP for a test, with a freshly issued key in the client's
headers (``Authorization: Bearer ...``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orchestrator.ops.app import OpsServer, create_ops_app
from services.orchestrator.ops.auth import Scope, issue_key
from services.orchestrator.settings import OrchestratorSettings
from trellis.broker import free_port


@asynccontextmanager
async def ops_client(
    engine: AsyncEngine, database_url: str, clock: Callable[[], datetime], scope: Scope
) -> AsyncIterator[httpx.AsyncClient]:
    async with engine.begin() as conn:
        secret = (await issue_key(conn, scope, clock())).secret
    port = free_port()
    settings = OrchestratorSettings(env="test", database_url=database_url, ops_serve=False)
    server = OpsServer(create_ops_app(engine, settings, clock), "127.0.0.1", port)
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"authorization": f"Bearer {secret}"},
            timeout=10,
        ) as http:
            yield http
    finally:
        await server.stop()
