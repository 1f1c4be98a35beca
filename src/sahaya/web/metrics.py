"""Prometheus metrics: request counts and latency per route template.

A plain ASGI middleware (not `BaseHTTPMiddleware`) so the hot path pays one dict lookup and
two metric updates. With several `serve` processes set `PROMETHEUS_MULTIPROC_DIR`, and
`/metrics` aggregates across them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import functools
import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "sahaya_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "sahaya_http_request_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            counter, histogram = _children(scope["method"], template, status)
            counter.inc()
            histogram.observe(time.perf_counter() - started)


@functools.cache
def _children(method: str, template: str, status: int) -> tuple[Counter, Histogram]:
    """The labelled series of one (method, route, status): `labels()` is a lock and a
    tuple key per call, which the hot routes should not pay. Bounded by routes × statuses."""
    return REQUESTS.labels(method, template, str(status)), LATENCY.labels(method, template)


async def metrics_endpoint(request: Request) -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
