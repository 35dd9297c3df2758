"""Request ids and trace ids: echoed on the answer, carried on every log line of the request."""
import json
import logging

from opentelemetry import trace

from kam_shared.observability import JsonFormatter
from kam_shared.testing import service_client
from kam_shared.tracing import REQUEST_ID, current_traceparent, span_from_traceparent

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_request_id_is_echoed_or_made_and_a_forged_one_is_replaced():
    async with service_client("opportunity-svc") as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "click-42"})
        made = await client.get("/healthz")
        forged = await client.get("/healthz", headers={"X-Request-ID": "a b\tc"})
    assert given.headers["x-request-id"] == "click-42"
    assert len(made.headers["x-request-id"]) == 32
    assert forged.headers["x-request-id"] not in ("a b\tc", "") and len(forged.headers["x-request-id"]) == 32
    assert REQUEST_ID.get() is None  # nothing left set after the request


async def test_a_log_line_inside_a_request_carries_its_trace_and_request_id():
    lines: list[dict] = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(JsonFormatter("opportunity-svc").format(record)))

    async def logs_a_line():
        logging.getLogger("kam.test").warning("inside the request")
        return {}

    capture = Capture()
    async with service_client("opportunity-svc") as client:
        client._transport.app.router.add_api_route("/_test/log", logs_a_line)
        logging.getLogger().addHandler(capture)  # after start-up: configure_logging resets the handlers
        try:
            resp = await client.get("/_test/log", headers={"X-Request-ID": "req-7", "traceparent": TRACEPARENT})
            logging.getLogger("kam.test").warning("after the request")
        finally:
            logging.getLogger().removeHandler(capture)
    assert resp.status_code == 200 and resp.headers["x-request-id"] == "req-7"
    inside = next(line for line in lines if line["msg"] == "inside the request")
    assert inside["request_id"] == "req-7" and inside["trace_id"] == TRACE_ID  # the caller's trace continues
    after = next(line for line in lines if line["msg"] == "after the request")
    assert "request_id" not in after and "trace_id" not in after


def test_formatter_puts_trace_and_request_ids_on_the_line():
    formatter = JsonFormatter("forecast-svc")
    record = logging.LogRecord("kam.test", logging.INFO, __file__, 1, "applied", None, None)
    token = REQUEST_ID.set("req-9")
    try:
        with span_from_traceparent("apply", TRACEPARENT):
            line = json.loads(formatter.format(record))
            assert current_traceparent().split("-")[1] == TRACE_ID
    finally:
        REQUEST_ID.reset(token)
    assert line["trace_id"] == TRACE_ID and line["request_id"] == "req-9"
    assert not trace.get_current_span().get_span_context().is_valid


def test_with_no_exporter_only_a_callers_sampled_trace_is_recorded_and_every_span_has_ids(monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider

    from kam_shared.tracing import _sampler, configure_tracing

    configure_tracing("opportunity-svc")  # once per process; a no-op when a service app made it already
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    with span_from_traceparent("apply", None) as root:  # no caller: a trace of our own, not recorded
        assert not root.is_recording() and root.get_span_context().is_valid
    with span_from_traceparent("apply", TRACEPARENT) as sampled:
        assert sampled.is_recording() and format(sampled.get_span_context().trace_id, "032x") == TRACE_ID
    with span_from_traceparent("apply", TRACEPARENT[:-2] + "00") as unsampled:
        assert not unsampled.is_recording() and current_traceparent().split("-")[1] == TRACE_ID
    # The standard variables still decide when given: an exporter, or a sampler of the operator's.
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert _sampler() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    assert _sampler() is None
    monkeypatch.delenv("OTEL_TRACES_SAMPLER")
    assert _sampler() is not None
