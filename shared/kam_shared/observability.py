"""JSON logs (with trace and request ids), Prometheus metrics and the health endpoints every service
exposes."""
from __future__ import annotations

import json
import logging
import sys
import time

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from .tracing import RequestIdMiddleware, instrument_app, log_fields

HTTP_REQUESTS = Counter("kam_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram("kam_http_request_seconds", "HTTP request latency", ["service", "method", "route"],
                         buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
OUTBOX_PUBLISHED = Counter("kam_outbox_published_total", "Events published by the outbox relay", ["service"])
OUTBOX_BACKLOG = Gauge("kam_outbox_backlog", "Outbox rows not yet published (sampled at least once a second while "
                       "the relay works)", ["service"])
CONSUMER_LAG = Gauge("kam_consumer_lag", "Messages on the partition not yet consumed by this instance (high water - "
                     "position), sampled at least once a second", ["service", "topic", "partition"])
CONSUMER_COMMIT_FAILURES = Counter("kam_consumer_commit_failures_total", "Offset commits that failed (the events "
                                   "stay applied; the next commit covers them)", ["service"])
CONSUMER_REBUILDS = Counter("kam_consumer_rebuilds_total", "Consumer clients dropped and built again after a "
                            "broker failure", ["service"])
BROKER_RESETS = Counter("kam_broker_resets_detected_total", "Times the broker was found to have lost what it held "
                        "(a partition ending below what was read or published, or a topic gone)", ["service", "where"])
OUTBOX_REPUBLISHED = Counter("kam_outbox_republished_total", "Outbox events published again because the broker lost "
                             "them before every consumer group confirmed them", ["service"])
EVENTS_CONSUMED = Counter("kam_events_consumed_total", "Events applied by consumers", ["service", "type"])
EVENTS_DEAD_LETTERED = Counter("kam_events_dead_lettered_total", "Messages sent to a DLQ", ["service", "topic"])


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
            **log_fields(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")
    logging.getLogger("aiokafka").setLevel("WARNING")
    logging.getLogger("httpx").setLevel("WARNING")  # a line per peer call would drown the service's own


class MetricsMiddleware:
    """Request count and latency per route template. Plain ASGI: Starlette's BaseHTTPMiddleware
    costs about a millisecond a request on this hardware."""

    def __init__(self, app, service: str):
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status["code"])).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], route).observe(time.perf_counter() - start)


def install_observability(app: FastAPI, service: str, readiness) -> None:
    """`readiness` is an async callable returning {check: "ok" | error text}."""

    app.add_middleware(MetricsMiddleware, service=service)
    app.add_middleware(RequestIdMiddleware)  # outermost: every line of the request carries its id
    instrument_app(app)

    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process is up")
    async def healthz():
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="Readiness: database and broker reachable")
    async def readyz():
        checks = await readiness()
        ok = all(v == "ok" for v in checks.values())
        return Response(json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}),
                        status_code=200 if ok else 503, media_type="application/json")

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics():
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
