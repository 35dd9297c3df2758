"""No input reaches a 500 (issue 13, item 3), against the running stack: every operation of every
service, found in its own OpenAPI document, gets a control character in each of its string
parameters and body fields; cursors, periods, integers past their column, nulls and oversized
bodies are refused with 4xx problem+json naming the field, and nothing is written."""
from __future__ import annotations

import base64
import json
import socket
import uuid

import httpx
import pytest

from kam_shared.testing_openapi import outbox_marks, replaced, stack_operations, string_leaves

PROBLEM = "application/problem+json"
# One per probe, in turn: NUL (what PostgreSQL refuses), another C0 control, DEL, a lone surrogate.
BAD_TEXT = ["a\x00b", "a\x1bb", "a\x7fb", "a\ud800b"]


@pytest.fixture(scope="module")
def operations(stack):
    return stack_operations(stack)


def assert_refused(resp: httpx.Response, field: str | None, where: str) -> None:
    assert resp.status_code == 422, f"{where}: {resp.status_code} {resp.text[:300]}"
    assert resp.headers["content-type"].startswith(PROBLEM), where
    if field is not None:  # the guard's own `field`, or the framework's validation `errors[].field`
        problem = resp.json()
        named = {problem.get("field"), *(e.get("field") for e in problem.get("errors", []))}
        assert field in named, f"{where}: {resp.text[:300]}"


def nul_probes(operation):
    """(description, expected field, request kwargs) for each string input of the operation."""
    path_values = operation.path_samples()
    query = {p["name"]: operation.sample(p.get("schema", {})) for p in operation.parameters("query")}
    body = operation.body()
    sample = operation.sample(body[1]) if body else None

    def request(path=None, params=None, payload=None):
        kwargs = {"params": {k: v for k, v in (params if params is not None else query).items() if v is not None}}
        if body:
            content = payload if payload is not None else sample
            if body[0] == "application/json":  # ASCII-escaped, as most clients send it: \u0000, \ud800
                kwargs["content"] = json.dumps(content).encode()
                kwargs["headers"] = {"Content-Type": "application/json"}
            else:
                kwargs["data"] = content
        return operation.url("", path or path_values), kwargs

    n = 0
    in_url = BAD_TEXT[:3]  # a lone surrogate has no UTF-8 form to put in a URL or a form
    for name in path_values:
        yield f"path {name}", name, request(path={**path_values, name: in_url[n % 3]})
        n += 1
    for name in query:
        yield f"query {name}", name, request(params={**query, name: in_url[n % 3]})
        n += 1
    bad_in_body = BAD_TEXT if body and body[0] == "application/json" else in_url
    for leaf in string_leaves(sample) if sample is not None else []:
        dotted = ".".join(str(part) for part in leaf)
        yield f"body {dotted}", dotted, request(payload=replaced(sample, leaf, bad_in_body[n % len(bad_in_body)]))
        n += 1


def test_a_control_character_in_any_string_input_of_any_operation_is_a_422_naming_it(stack, org, operations):
    api, tokens, _ = org
    before = outbox_marks(stack)
    probed, failures = 0, []
    with httpx.Client(timeout=30) as http:
        for operation in operations:
            for what, field, (path, kwargs) in nul_probes(operation):
                headers = {**tokens["admin"], **kwargs.pop("headers", {})}
                resp = http.request(operation.method.upper(), stack.url(operation.service) + path,
                                    headers=headers, **kwargs)
                probed += 1
                try:
                    assert_refused(resp, field, f"{operation.name} {what}")
                except AssertionError as exc:
                    failures.append(str(exc))
    assert not failures, f"{len(failures)} of {probed} probes not refused:\n" + "\n".join(failures[:40])
    assert probed > 300
    assert outbox_marks(stack) == before, "a refused request wrote an event"



def _list_operations_with(operations, parameter: str):
    return [op for op in operations
            if op.method == "get" and any(p["name"] == parameter for p in op.parameters("query"))]


def _required_query(operation) -> dict:
    return {p["name"]: operation.sample(p.get("schema", {}))
            for p in operation.parameters("query") if p.get("required")}


def _cursor(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_CURSORS = {
    "not base64": "!!!",
    "a time without a zone": _cursor(f"2026-01-01T00:00:00|{uuid.uuid4()}"),
    "the wrong number of keys": _cursor("a|b|c"),
    "not UTF-8": _cursor(b"\xff\xfe\xfd"),
    "not an id": _cursor("not-a-uuid"),
}


def test_every_list_refuses_a_malformed_cursor_with_a_422_naming_it(stack, org, operations):
    _, tokens, _ = org
    lists = _list_operations_with(operations, "cursor")
    assert len(lists) >= 20
    with httpx.Client(timeout=30, headers=tokens["admin"]) as http:
        for operation in lists:
            for what, cursor in BAD_CURSORS.items():
                resp = http.get(operation.url(stack.url(operation.service), operation.path_samples()),
                                params={**_required_query(operation), "cursor": cursor})
                assert resp.status_code < 500, f"{operation.name} cursor {what}: {resp.status_code} {resp.text[:200]}"
                if resp.status_code == 422:
                    assert "cursor" in resp.json()["detail"], f"{operation.name}: {resp.text[:200]}"
                else:  # the route refused something else first (an unknown record: 404)
                    assert resp.status_code in (403, 404), f"{operation.name} cursor {what}: {resp.text[:200]}"


def test_a_period_outside_the_calendar_is_a_422_naming_it_on_every_route_that_takes_one(stack, org, operations):
    _, tokens, ids = org
    with_period = [op for op in operations
                   if any(p["name"] == "period" for p in op.parameters("query") + op.parameters("path"))]
    assert len(with_period) >= 8
    with httpx.Client(timeout=30, headers=tokens["admin"]) as http:
        for operation in with_period:
            for period in ("0000-Q1", "9999-Q4", "0000", "9999-12", "FY0000", "FY9999-Q4"):
                path = {**operation.path_samples(), **({"period": period} if "{period}" in operation.path else {})}
                path.update({k: ids["manager"] for k in path if k in ("node", "user_id")})
                query = _required_query(operation)
                query.update({k: ids["manager"] for k in query if k in ("node", "user_id")})
                if "{period}" not in operation.path:
                    query["period"] = period
                body = operation.body()
                kwargs = {"json": {**operation.sample(body[1]), **({"period": period} if "period" in
                                   body[1].get("properties", {}) else {})}} if body else {}
                resp = http.request(operation.method.upper(), operation.url(stack.url(operation.service), path),
                                    params=query, **kwargs)
                where = f"{operation.name} period {period}"
                assert resp.status_code < 500, f"{where}: {resp.text[:200]}"
                if resp.status_code >= 400:  # a filter on stored labels may answer an empty page instead
                    assert resp.headers["content-type"].startswith(PROBLEM), where
    rollup = httpx.get(f"{stack.url('forecast-svc')}/v1/rollups", headers=tokens["admin"],
                       params={"node": ids["manager"], "period": "9999-Q4"}, timeout=30)
    assert_refused(rollup, "period", "rollups 9999-Q4")


def _integer_inputs(operation, schema, where: str):
    schema = operation.resolve(schema)
    for combinator in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(combinator, []):
            yield from _integer_inputs(operation, option, where)
    if schema.get("type") == "integer" and "enum" not in schema:
        yield where, schema
    if schema.get("type") == "array":
        yield from _integer_inputs(operation, schema.get("items", {}), f"{where}[]")
    for name, prop in schema.get("properties", {}).items():
        yield from _integer_inputs(operation, prop, f"{where}.{name}" if where else name)


def test_every_integer_input_declares_the_bound_its_column_holds(operations):
    """A number past its column's range (INTEGER, at most BIGINT) was the database's overflow error
    (a 500); the bound in the schema makes it a 422 and tells a client the limit."""
    unbounded = []
    for operation in operations:
        for parameter in operation.spec.get("parameters", []):
            parameter = operation.resolve(parameter)
            for where, schema in _integer_inputs(operation, parameter.get("schema", {}), parameter["name"]):
                if "maximum" not in schema or schema["maximum"] > 2**63 - 1:
                    unbounded.append(f"{operation.name} {where}")
        body = operation.body()
        for where, schema in _integer_inputs(operation, body[1], "") if body else ():
            if "maximum" not in schema or schema["maximum"] > 2**63 - 1:
                unbounded.append(f"{operation.name} body {where}")
    assert not unbounded, unbounded


def test_integers_past_their_column_nulls_and_far_dates_are_422_and_write_nothing(stack, org):
    api, tokens, ids = org
    admin = tokens["admin"]
    before = outbox_marks(stack)
    accounts_before = api.call("GET", "account-svc", "/v1/accounts", admin, params={"q": "Overflow"}).json()
    cases = [
        ("account-svc", "POST", "/v1/accounts", {"json": {"name": "Overflow Ltd", "employees": 2**31}}, "employees"),
        ("account-svc", "POST", "/v1/accounts", {"json": {"name": "Overflow Ltd", "employees": 2**63}}, "employees"),
        ("team-svc", "GET", f"/v1/users/{ids['manager']}/subtree", {"params": {"max_depth": 2**31}}, "max_depth"),
        ("team-svc", "GET", f"/v1/users/{ids['manager']}/subtree", {"params": {"max_depth": 2**63}}, "max_depth"),
        ("forecast-svc", "POST", "/v1/admin/stage-snapshots", {"json": {"day": "0001-01-01"}}, "day"),
        ("forecast-svc", "POST", "/v1/admin/stage-snapshots", {"json": {"day": "9999-12-31"}}, "day"),
    ]
    for service, method, path, kwargs, field in cases:
        resp = api.call(method, service, path, admin, **kwargs)
        assert_refused(resp, field, f"{method} {path} {kwargs}")
    # A time at the edge of the calendar with an offset, and a close date whose month end is no date.
    account = api.call("POST", "account-svc", "/v1/accounts", admin, json={"name": f"Edge {uuid.uuid4().hex[:6]}"})
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]
    for occurred_at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        resp = api.call("POST", "account-svc", f"/v1/accounts/{account_id}/interactions", admin, json={
            "kind": "visit", "occurred_at": occurred_at, "subject": "edge"})
        assert_refused(resp, "occurred_at", f"interaction at {occurred_at}")
    interactions = api.call("GET", "account-svc", f"/v1/accounts/{account_id}/interactions", admin).json()
    assert interactions["items"] == []
    resp = api.call("POST", "opportunity-svc", "/v1/opportunities", admin, json={
        "account_id": account_id, "name": "edge", "amount": "1.00", "currency": "CNY", "close_date": "9999-12-31",
        "owner_id": ids["manager"]})
    assert_refused(resp, "close_date", "opportunity closing 9999-12-31")
    after = api.call("GET", "account-svc", "/v1/accounts", admin, params={"q": "Overflow"}).json()
    assert after["items"] == accounts_before["items"]
    assert {k: v for k, v in outbox_marks(stack).items() if k != "account-svc"} == \
        {k: v for k, v in before.items() if k != "account-svc"}  # account-svc: the Edge account was created


def test_null_where_a_number_is_required_is_a_422(stack, org):
    api, tokens, ids = org
    admin = tokens["admin"]
    plan = api.call("POST", "team-svc", "/v1/incentive-plans", admin, json={
        "name": "Null probe", "currency": "CNY", "fiscal_year": "FY2026", "payout_frequency": "quarter",
        "base_rate_percent": "2.5", "participant_ids": [ids["rep"]]})
    assert plan.status_code == 201, plan.text
    plan_id, etag = plan.json()["id"], plan.headers["etag"]
    for field in ("base_rate_percent", "name", "tiers", "participant_ids", "retire"):
        resp = api.call("PATCH", "team-svc", f"/v1/incentive-plans/{plan_id}", {**admin, "If-Match": etag},
                        json={field: None})
        assert_refused(resp, field, f"PATCH plan {field}: null")
    again = api.call("GET", "team-svc", f"/v1/incentive-plans/{plan_id}", admin)
    assert again.headers["etag"] == etag and again.json()["base_rate_percent"] == plan.json()["base_rate_percent"]


def raw_request(port: int, head: bytes, body_chunks=()) -> tuple[int, dict]:
    """Sends a request on a plain socket (the server may answer and close before the body is all
    sent, which an HTTP client library reports as an error); returns the status and the JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(head)
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered already
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"application/problem+json" in headers.lower(), answer[:300]
    return int(status_line.split()[1]), json.loads(body[:_length(answer)])


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_a_body_over_the_limit_is_413_before_it_is_read_or_the_caller_is_known(stack, org):
    api, tokens, _ = org
    limit = 1024 * 1024
    bearer = tokens["admin"]["Authorization"].encode()
    port = stack.ports["account-svc"]
    for auth in (b"", b"Authorization: " + bearer + b"\r\n"):  # no token: still 413, not 401
        head = (b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + auth +
                b"Content-Length: %d\r\n\r\n" % (limit + 1))
        status, problem = raw_request(port, head, [b"{" + b" " * (limit - 1) + b"}"])
        assert status == 413 and problem["max_bytes"] == limit, problem
    # No Content-Length (chunked): the stream itself is counted.
    head = (b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: " + bearer + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    status, problem = raw_request(port, head, [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (limit // len(chunk) + 2))
    assert status == 413, problem
    # The unauthenticated token route: a declared length alone is enough, the body is never waited for.
    status, problem = raw_request(stack.ports["team-svc"], b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                                  b"Content-Length: 104857600\r\n\r\n")
    assert status == 413, problem
    # Just under the limit is read and judged on its content as usual (here: too long a name).
    fits = api.call("POST", "account-svc", "/v1/accounts", tokens["admin"], json={"name": "x" * (limit - 1000)})
    assert fits.status_code == 422 and fits.headers["content-type"].startswith(PROBLEM)
    assert "name" in fits.json()["detail"]
