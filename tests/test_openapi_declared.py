"""The OpenAPI documents tell the truth: for every operation of every running service, a handful
of bad requests (no token, unknown or malformed ids, an invalid or malformed body, a stale
If-Match, a bad Idempotency-Key, out-of-range paging) get answers whose status the document
declares for that operation, as problem+json, with the headers it declares; and /docs and /redoc
load everything they need from the service itself."""
import json
import re
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from kam_shared.services import SERVICES

PROBLEM = "application/problem+json"
# No request here may change anything: admin probes that could succeed with no input are skipped.
CAN_SUCCEED_EMPTY = {("POST", "/v1/auth/keys/rotate"), ("POST", "/v1/admin/rebuild"),
                     ("POST", "/v1/admin/outbox/parked/retry")}


@dataclass
class Probe:
    method: str
    path: str
    why: str
    headers: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    content: bytes | None = None


def _path_value(param: dict, malformed: bool) -> str:
    schema = param.get("schema", {})
    if schema.get("format") == "uuid":
        return "not-a-uuid" if malformed else str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "x" if malformed else "987654"
    return "2099-Q9" if malformed else "2099-Q1"


def _probes(path: str, method: str, operation: dict, who: str, token: str | None) -> list[Probe]:
    """The bad requests sent to one operation by one caller."""
    params = operation.get("parameters", [])
    path_params = [p for p in params if p["in"] == "path"]
    header_names = {p["name"].lower() for p in params if p["in"] == "header"}
    body = operation.get("requestBody", {}).get("content", {})
    auth = {"Authorization": f"Bearer {token}"} if token else {}

    def url(malformed=False):
        result = path
        for p in path_params:
            result = result.replace("{" + p["name"] + "}", _path_value(p, malformed))
        return result

    def with_body(content: bytes) -> dict:
        form = "application/x-www-form-urlencoded"
        kind = form if form in body else "application/json"
        return {"content": content, "headers": {**auth, "content-type": kind}}

    if token is None:
        return [Probe(method, url(), "no bearer token")] if operation.get("security") else []
    if who == "admin" and (method, path) in CAN_SUCCEED_EMPTY:
        return []
    invalid_body = with_body(b'"not an object"') if body else {"headers": auth}
    probes = [Probe(method, url(), f"{who}: unknown ids, invalid body", **invalid_body)]
    if path_params:
        probes.append(Probe(method, url(malformed=True), f"{who}: malformed path ids", **invalid_body))
        if not body and method != "GET":
            probes.append(Probe(method, url(), f"{who}: unknown ids, no body", headers=auth))
    if "application/json" in body:
        probes.append(Probe(method, url(), f"{who}: malformed JSON", **with_body(b'{"unclosed": ')))
    if "if-match" in header_names:
        probes.append(Probe(method, url(), f"{who}: stale If-Match",
                            **{**invalid_body, "headers": {**invalid_body["headers"], "If-Match": '"424242"'}}))
    if "idempotency-key" in header_names:
        probes.append(Probe(method, url(), f"{who}: Idempotency-Key too long",
                            **{**invalid_body, "headers": {**invalid_body["headers"], "Idempotency-Key": "k" * 300}}))
    if any(p["name"] == "limit" and p["in"] == "query" for p in params):
        probes.append(Probe(method, url(), f"{who}: limit=0", headers=auth, params={"limit": "0"}))
    return probes


def _check(resp: httpx.Response, probe: Probe, operation: dict) -> str | None:
    declared = operation["responses"]
    status = str(resp.status_code)
    where = f"{probe.method} {probe.path} ({probe.why}) -> {status}"
    if resp.status_code >= 500:
        return f"{where}: server error {resp.text[:200]}"
    if status not in declared:
        return f"{where}: not declared (declared: {sorted(declared)}) {resp.text[:200]}"
    if resp.status_code >= 400:
        if not resp.headers.get("content-type", "").startswith(PROBLEM):
            return f"{where}: not problem+json"
        if PROBLEM not in declared[status].get("content", {}):
            return f"{where}: declared without the Problem body"
        body = resp.json()
        if body.get("status") != resp.status_code or not body.get("detail"):
            return f"{where}: problem body {body}"
    for header in ("ETag", "Location", "Idempotent-Replayed"):
        if header in resp.headers and header not in declared[status].get("headers", {}):
            return f"{where}: sends {header} without declaring it"
    return None


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_status_a_bad_request_gets_is_declared(stack, org, service):
    _api, auth, _ids = org
    document = httpx.get(f"{stack.url(service)}/openapi.json", timeout=30).json()
    callers = {"anonymous": None, "rep": auth["rep"], "admin": auth["admin"]}
    failures, seen = [], set()
    with httpx.Client(base_url=stack.url(service), timeout=30) as client:
        for path, item in document["paths"].items():
            for method, operation in item.items():
                for who, header in callers.items():
                    token = header["Authorization"].split(" ", 1)[1] if header else None
                    for probe in _probes(path, method.upper(), operation, who, token):
                        resp = client.request(probe.method, probe.path, headers=probe.headers, params=probe.params,
                                              content=probe.content)
                        seen.add(resp.status_code)
                        failures.append(_check(resp, probe, operation))
    failures = [f for f in failures if f]
    assert not failures, f"{len(failures)} answers the document does not declare:\n" + "\n".join(failures)
    # The probes reach what they are for (a test that cannot fail would prove nothing).
    assert {400, 401, 404, 422} <= seen, seen


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_operation_declares_problem_json_and_bearer_security(stack, service):
    document = httpx.get(f"{stack.url(service)}/openapi.json", timeout=30).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert document["components"]["securitySchemes"] == {"bearer": {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "JWT from team-svc `POST /v1/auth/token`"}}
    public = {"/healthz", "/readyz", "/metrics", "/.well-known/jwks.json", "/v1/auth/token", "/v1/auth/revoke"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
            for status, response in errors.items():
                assert response["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, \
                    (method, path, status)
            if path in public:
                assert "security" not in operation, (method, path)
                assert "401" not in errors or path == "/v1/auth/token", (method, path)  # wrong password: 401
            else:
                assert operation["security"] == [{"bearer": []}] and "401" in errors, (method, path)
            header_params = {p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"}
            if "if-match" in header_params:
                assert "412" in errors, (method, path)
            if method == "post" and path not in public:
                assert "idempotency-key" in header_params, (method, path)
                assert all("Idempotent-Replayed" in r.get("headers", {})
                           for s, r in operation["responses"].items() if s[0] == "2"), (method, path)


ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']|spec-url=["']([^"']+)["']""")


@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_service_itself(stack, service, page):
    with httpx.Client(base_url=stack.url(service), timeout=30) as client:
        html = client.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://|//cdn|fonts\.googleapis", html.text), "the page names an outside host"
        references = {next(g for g in m.groups() if g) for m in ASSET.finditer(html.text)}
        assert any(r.endswith(".js") for r in references) and "/openapi.json" in references, references
        for reference in references:
            assert reference.startswith("/"), reference
            asset = client.get(reference)
            assert asset.status_code == 200 and len(asset.content) > 100, reference
        if page == "/docs":
            assert {"/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css"} <= references
        else:
            assert "/docs-assets/redoc.standalone.js" in references
        json.loads(client.get("/openapi.json").text)
