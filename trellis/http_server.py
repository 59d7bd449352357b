"""The one ``uvicorn.Config`` of an HTTP server that runs inside a service's event loop (the
ops API in the orchestrator, the notifier's health and callbacks)."""

from __future__ import annotations

from typing import Any

import uvicorn

from trellis.settings import SERVER_KEEP_ALIVE_S


def in_loop_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """No lifespan (the service owns start-up), no access log, uvicorn's logging left to ours,
    idle connections kept ``SERVER_KEEP_ALIVE_S``."""
    return uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off",
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
    )  # fmt: skip
