"""A broker and a database that a test can cut (chaos/proxy.py in front of each), for readiness.

The embedded broker advertises the proxy's address, so every client connection (bootstrap and
partition leaders alike) runs through it: a cut is the broker gone, as clients see it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from chaos.proxy import TcpProxy
from trellis.broker import EmbeddedBroker, free_port


class _ProxiedBroker(EmbeddedBroker):
    def __init__(self, proxy_port: int, log_path: Path) -> None:
        super().__init__("127.0.0.1", free_port(), log_path=log_path)
        self.proxy_port = proxy_port

    def command(self) -> list[str]:
        advertised = f"tcp://127.0.0.1:{self.proxy_port}"
        command = super().command()
        command[command.index("--advertised-listener-url") + 1] = advertised
        return command


@asynccontextmanager
async def cuttable_broker(tmp_path: Path) -> AsyncIterator[tuple[str, TcpProxy]]:
    """A broker of the test's own behind a proxy: (bootstrap through the proxy, the proxy)."""
    proxy_port = free_port()
    broker = _ProxiedBroker(proxy_port, tmp_path / "tansu.log")
    proxy = TcpProxy(proxy_port, "127.0.0.1", broker.port)
    await proxy.start()
    try:
        async with broker:
            yield f"127.0.0.1:{proxy_port}", proxy
    finally:
        await proxy.close()


@asynccontextmanager
async def cuttable_database(database_url: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    """(the same database's URL through a proxy, the proxy)."""
    url = make_url(database_url)
    proxy = TcpProxy(free_port(), url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.listen_port)
    try:
        yield through.render_as_string(hide_password=False), proxy
    finally:
        await proxy.close()


@dataclass(frozen=True)
class Cuttable:
    bootstrap: str
    broker: TcpProxy
    database_url: str
    database: TcpProxy


@asynccontextmanager
async def cuttable_stack(database_url: str, tmp_path: Path) -> AsyncIterator[Cuttable]:
    """A broker of the test's own and ``database_url``, each behind its own proxy."""
    async with (
        cuttable_broker(tmp_path) as (bootstrap, broker_proxy),
        cuttable_database(database_url) as (db_url, db_proxy),
    ):
        yield Cuttable(bootstrap, broker_proxy, db_url, db_proxy)


async def readiness(url: str) -> tuple[int, dict[str, str]]:
    """``/readyz``'s status and body; (0, {}) while nothing listens."""
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(url)
    except httpx.TransportError:
        return 0, {}
    return answer.status_code, answer.json()
