"""Operability: Prometheus metrics, request ids (``X-Request-ID`` in and out), one JSON-ready
access log line per request.

A plain ASGI middleware (not ``BaseHTTPMiddleware``) so the hot path pays for a dict lookup and
a clock read, not an extra task per request. Metrics live in a registry owned by the app (tests
start many apps in one process). With several uvicorn workers each process has its own registry:
scrape each worker, or set ``PROMETHEUS_MULTIPROC_DIR`` (not wired yet).
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("trellis.ingest.access")
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")

REJECT_REASONS = {
    400: "malformed",
    401: "unauthorized",
    403: "forbidden",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid",
    429: "rate_limited",
    503: "broker_unavailable",
}


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "trellis_ingest_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.events_accepted = Counter(
            "trellis_ingest_events_accepted",
            "Events and outcomes acknowledged by the broker, by topic kind.",
            ["kind"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "trellis_ingest_requests_rejected",
            "Requests to /v1 refused, by reason (nothing of a refused request is published).",
            ["reason"],
            registry=self.registry,
        )
        self.produce_seconds = Histogram(
            "trellis_ingest_produce_seconds",
            "Time from send to the broker's acknowledgement of a request's records.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _SAFE_ID.match(text):
                return text
            break
    return os.urandom(16).hex()  # 128 random bits, as uuid4().hex without building a UUID


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: IngestMetrics) -> None:
        self.app = app
        self.metrics = metrics
        # Counter children by label values: ``labels()`` takes a lock and builds a tuple per
        # call. Routes are templates and statuses few, so these stay small.
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._rejected: dict[int, Counter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, rid)
            request_id.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float, rid: str) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = scope["method"]
        key = (route, method, status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.metrics.requests.labels(route, method, str(status))
        child.inc()
        if route.startswith("/v1") and status in REJECT_REASONS:
            rejected = self._rejected.get(status)
            if rejected is None:
                reason = REJECT_REASONS[status]
                rejected = self._rejected[status] = self.metrics.rejected.labels(reason)
            rejected.inc()
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                route,
                status,
                elapsed * 1000,
                extra={"request_id": rid},
            )


async def metrics_endpoint(request: Request) -> Response:
    metrics: IngestMetrics = request.app.state.metrics
    return metrics.render()
