"""OpenTelemetry for every service: one trace from an HTTP request through its SQL, the outbox
row, the relay's publish and the consumer's handler in another service.

Spans are always made (so a trace id exists to log and to carry on events); with no exporter
they are recorded only when the caller's traceparent says sampled (see `_sampler`); they leave the
process only when the standard variables ask: `OTEL_TRACES_EXPORTER=otlp` (endpoint from
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `console`; the default is
`none`. The instrumentations are OpenTelemetry's own (FastAPI, httpx, SQLAlchemy, aiokafka).

Across the broker the context travels as the CloudEvents distributed-tracing extension
`traceparent` on the event itself (kept in the outbox row), so it survives the outbox, a relay
restart and a DLQ copy.
"""
from __future__ import annotations

import logging
import os
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

log = logging.getLogger("kam.tracing")
REQUEST_ID: ContextVar[str | None] = ContextVar("kam_request_id", default=None)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_configured = False


def tracing_disabled() -> bool:
    """OpenTelemetry's standard switch: OTEL_SDK_DISABLED=true makes no spans and instruments nothing."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _exporter_names() -> list[str]:
    """The exporters OTEL_TRACES_EXPORTER names (default none)."""
    return [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "none").split(",") if n.strip()]


def exporting() -> bool:
    """Do spans leave the process (OTEL_TRACES_EXPORTER names an exporter)?"""
    return any(n != "none" for n in _exporter_names())


def configure_tracing(service: str) -> None:
    """The process's tracer provider and the library instrumentations; once per process."""
    global _configured
    if _configured:
        return
    _configured = True
    if tracing_disabled():
        return
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME",
                                                                                       service)}),
                              sampler=_sampler())
    for name in _exporter_names():
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name not in ("none", ""):
            log.warning("OTEL_TRACES_EXPORTER=%s is not one of otlp, console, none; spans stay here", name)
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    # The relay's send (a producer span in the event's own trace: see event_context) and the
    # consumers' fetches; the W3C traceparent also travels as a Kafka header it adds.
    AIOKafkaInstrumentor().instrument()


def _sampler():
    """The standard `OTEL_TRACES_SAMPLER` when set; else, with no exporter, record only what a caller
    sampled (ParentBased over ALWAYS_OFF): a span nobody collects costs the request and the consumer
    as much as one that is exported (in one run with OTEL_SDK_DISABLED, stage change -> roll-up was
    ~2 ms faster at p50 on Apache Kafka; back-to-back runs later put the sampler's gain within this
    VM's noise), and an unrecorded span still has its ids, so the logs' trace_id and the events'
    traceparent are there either way. None: the SDK's own choice (parent-based, always on)."""
    if os.environ.get("OTEL_TRACES_SAMPLER", "").strip() or exporting():
        return None
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    return ParentBased(root=ALWAYS_OFF)


def instrument_app(app) -> None:
    if tracing_disabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics",
                                       exclude_spans=["receive", "send"])


def instrument_engine(engine) -> None:
    # A span per SQL statement is worth its cost (about a tenth of a consumer's apply, measured) only
    # when spans are exported: the trace id the logs carry comes from the route and event spans.
    if tracing_disabled() or not exporting():
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # skip_dep_check: the instrumentation declares sqlalchemy < 2.1 but works with 2.1 (tested here).
    SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


def current_traceparent() -> str | None:
    """The W3C traceparent of the span running now, to put on an event; None outside any span."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span_from_traceparent(name: str, traceparent: str | None, **attributes):
    """A span continuing the trace an event carries (a new trace when it carries none)."""
    parent = extract({"traceparent": traceparent}) if traceparent else otel_context.Context()
    tracer = trace.get_tracer("kam")
    with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER,
                                      attributes={k: str(v) for k, v in attributes.items()}) as span:
        yield span


_EVENT_TRACEPARENT = re.compile(r'"traceparent"\s*:\s*"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"')


@contextmanager
def event_context(payload: str):
    """Inside: the trace an outbox row's event carries (its CloudEvents `traceparent`) is the current
    context, so the relay's instrumented publish is a span of the request that wrote the row."""
    found = None if tracing_disabled() else _EVENT_TRACEPARENT.search(payload)
    if found is None:
        yield
        return
    token = otel_context.attach(extract({"traceparent": found.group(1)}))
    try:
        yield
    finally:
        otel_context.detach(token)


def log_fields() -> dict[str, str]:
    """trace_id / span_id of the current span and the request id, for every log line."""
    fields: dict[str, str] = {}
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        fields["trace_id"] = format(ctx.trace_id, "032x")
        fields["span_id"] = format(ctx.span_id, "016x")
    request_id = REQUEST_ID.get()
    if request_id:
        fields["request_id"] = request_id
    return fields


class RequestIdMiddleware:
    """`X-Request-ID`: the caller's (when it is a sane token) or a new one; echoed on the answer
    and put on every log line of the request. Plain ASGI, and the ContextVar is reset after."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)
