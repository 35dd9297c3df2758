"""The one-origin gateway as a process in front of the real stack (services as processes, the real
broker and database): the API through it as a client sees it, the console's files, and the answers
when an upstream is down or too slow."""
import gzip
import socket
import uuid

import httpx
import pytest

from kam_shared.demo import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
from kam_shared.devstack import free_port, stop_process

PROBLEM = "application/problem+json"


def client(base: str, timeout: float = 60) -> httpx.Client:
    """A plain client: where an in-process service test instrumented httpx in this process, the
    instrumentation would replace the traceparent the test sends with a span of its own."""
    http = httpx.Client(base_url=base, timeout=timeout, trust_env=False)
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.uninstrument_client(http)
    return http


def sign_in(http: httpx.Client, email=DEV_ADMIN_EMAIL, password=DEV_ADMIN_PASSWORD) -> dict[str, str]:
    resp = http.post("/v1/auth/token", data={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def assert_problem(resp: httpx.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


def test_sign_in_and_create_through_the_gateway_pass_status_location_and_etag(gateway):
    with client(gateway) as http:
        auth = sign_in(http)
        request_id = f"gw-{uuid.uuid4().hex[:12]}"
        created = http.post("/v1/accounts", headers={**auth, "X-Request-ID": request_id},
                            json={"name": f"Gateway Bank {uuid.uuid4().hex[:6]}"})
        assert created.status_code == 201, created.text
        account = created.json()
        assert created.headers["location"] == f"/v1/accounts/{account['id']}"
        assert created.headers["etag"] == f'"{account["version"]}"'
        assert created.headers["x-request-id"] == request_id  # the service saw the caller's id

        fetched = http.get(created.headers["location"], headers=auth)
        assert fetched.status_code == 200 and fetched.json()["id"] == account["id"]
        assert fetched.headers["etag"] == created.headers["etag"]

        # /.well-known is routed too (team-svc's keys), and a query string survives the trip.
        assert http.get("/.well-known/jwks.json").json()["keys"]
        page = http.get("/v1/accounts", params={"limit": 1, "q": account["name"]}, headers=auth)
        assert [a["id"] for a in page.json()["items"]] == [account["id"]]


def test_if_match_and_idempotency_key_pass_through_both_ways(gateway):
    with client(gateway) as http:
        auth = sign_in(http)
        created = http.post("/v1/accounts", headers=auth, json={"name": f"Precondition Ltd {uuid.uuid4().hex[:6]}"})
        location = created.headers["location"]

        stale = http.patch(location, headers={**auth, "If-Match": '"999"'}, json={"industry": "banking"})
        assert_problem(stale, 412)
        assert http.get(location, headers=auth).json().get("industry") != "banking"  # nothing written
        fresh = http.patch(location, headers={**auth, "If-Match": created.headers["etag"]},
                           json={"industry": "banking"})
        assert fresh.status_code == 200 and fresh.json()["industry"] == "banking"
        assert fresh.headers["etag"] != created.headers["etag"]

        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"name": f"Retry Safe Co {uuid.uuid4().hex[:6]}"}
        first = http.post("/v1/accounts", headers={**auth, **key}, json=body)
        again = http.post("/v1/accounts", headers={**auth, **key}, json=body)
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1", "/v1/admin/outbox/parked", "/v1/accountsx",
                                  "/v1/org-unitsx/1", "/.well-known/unknown"])
def test_unknown_api_path_is_404_problem_json(gateway, path):
    with client(gateway) as http:
        resp = http.get(path)
    if path == "/.well-known/unknown":  # routed (team-svc owns /.well-known): its own 404 problem
        assert_problem(resp, 404)
        return
    body = assert_problem(resp, 404)
    assert path in body["detail"]


def test_bad_input_through_the_gateway_is_the_services_problem(gateway):
    with client(gateway) as http:
        auth = sign_in(http)
        resp = http.post("/v1/accounts", headers={**auth, "content-type": "application/json"}, content=b"{not json")
        assert_problem(resp, 400)
        resp = http.post("/v1/accounts", headers=auth, json={"name": ""})
        body = assert_problem(resp, 422)
        assert any(e["field"] == "name" for e in body["errors"])
        assert_problem(http.get("/v1/accounts"), 401)  # no token: the service's 401, unchanged


@pytest.fixture
def console_dir(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><html><head><script type="module" '
                                     'src="/assets/index-3f9a1c.js"></script></head><body><div id="app"></div>'
                                     '</body></html>')
    (dist / "assets" / "index-3f9a1c.js").write_text("export const stages = " + repr(list(range(400))) + ";\n")
    (dist / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    return dist


def test_console_files_spa_fallback_caching_and_gzip(stack, console_dir):
    proc, port = stack.spawn_gateway(console_dir=console_dir, log_name="gateway-console")
    try:
        with client(f"http://127.0.0.1:{port}") as http:
            index = http.get("/")
            assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
            assert 'id="app"' in index.text and index.headers["cache-control"] == "no-cache"

            for route in ("/pipeline", "/opportunities/9f1c2e0a-0000-4000-8000-000000000001", "/forecast/q/2026-Q4"):
                spa = http.get(route)
                assert spa.status_code == 200 and spa.text == index.text, route  # the SPA's router takes it

            asset = http.get("/assets/index-3f9a1c.js", headers={"Accept-Encoding": "gzip"})
            assert asset.status_code == 200
            assert asset.headers["content-type"].startswith("text/javascript")
            assert asset.headers["content-encoding"] == "gzip"
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert asset.text.startswith("export const stages")
            raw = http.get("/assets/index-3f9a1c.js", headers={"Accept-Encoding": "identity"})
            assert "content-encoding" not in raw.headers and raw.content == (console_dir / "assets/index-3f9a1c.js"
                                                                             ).read_bytes()
            assert len(gzip.compress(raw.content)) < len(raw.content)

            etag = raw.headers["etag"]
            assert http.get("/assets/index-3f9a1c.js", headers={"If-None-Match": etag}).status_code == 304
            assert http.get("/favicon.svg").headers["content-type"].startswith("image/svg+xml")

            # A missing script or file must never be answered with the page.
            assert_problem(http.get("/assets/index-missing.js"), 404)
            assert_problem(http.get("/logo.png"), 404)
            assert_problem(http.post("/pipeline", json={}), 405)
            assert http.get("/healthz").json() == {"status": "ok"}
    finally:
        stop_process(proc)


def test_console_not_built_says_how_to_build_it(stack, tmp_path):
    proc, port = stack.spawn_gateway(console_dir=tmp_path / "no-dist", log_name="gateway-nodist")
    try:
        with client(f"http://127.0.0.1:{port}") as http:
            for path in ("/", "/pipeline"):
                page = http.get(path)
                assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
                assert "make web" in page.text
            assert http.get("/.well-known/jwks.json").status_code == 200  # the API still works
    finally:
        stop_process(proc)


def test_stopped_upstream_is_503_problem_naming_it_and_the_others_still_work(stack):
    closed = free_port()  # nothing listens here: connections are refused
    proc, port = stack.spawn_gateway(upstreams={"account-svc": f"http://127.0.0.1:{closed}"},
                                     log_name="gateway-down")
    try:
        with client(f"http://127.0.0.1:{port}", timeout=60) as http:
            auth = sign_in(http)  # team-svc is up (a password check is slow on a loaded machine)
        # A refused connection answers at once, not after the 30 s read timeout: the client gives up
        # well before that, so a gateway that waited (or hung) fails here.
        with client(f"http://127.0.0.1:{port}", timeout=15) as http:
            for method, path in (("GET", "/v1/accounts"), ("POST", "/v1/accounts")):
                resp = http.request(method, path, headers=auth, json={"name": "x"} if method == "POST" else None)
                body = assert_problem(resp, 503)
                assert body["service"] == "account-svc" and "account-svc" in body["detail"]
                assert resp.headers["retry-after"]
            assert http.get("/v1/stage-model", headers=auth).status_code == 200
    finally:
        stop_process(proc)


def test_upstream_that_never_answers_is_504_problem(stack):
    # A listener that accepts connections (the kernel completes them from the backlog) but never
    # reads or answers: what a stuck service looks like from outside.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    proc, port = stack.spawn_gateway(
        upstreams={"forecast-svc": f"http://127.0.0.1:{silent.getsockname()[1]}"}, log_name="gateway-slow",
        extra_env={"KAM_GATEWAY_READ_TIMEOUT_S": "1"})
    try:
        # The client waits less than the 30 s default read timeout: the 1 s setting is what answers.
        with client(f"http://127.0.0.1:{port}", timeout=25) as http:
            body = assert_problem(http.get("/v1/rollups", params={"node": str(uuid.uuid4()), "period": "2026-Q4"}), 504)
            assert body["service"] == "forecast-svc"
    finally:
        stop_process(proc)
        silent.close()


class EchoUpstream:
    """A real HTTP server on loopback standing in for a service: it answers every request with what
    it received (method, raw path, headers, body) and with the headers a proxy must handle: an
    absolute Location on its own origin, two Set-Cookie, hop-by-hop ones, and a chunked body."""

    def __init__(self):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = json.dumps({"method": self.command, "path": self.path,
                                   "headers": [[k.lower(), v] for k, v in self.headers.items()],
                                   "body": body.decode()}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Location", f"{upstream.url}/v1/opportunities/42")
                self.send_header("ETag", '"7"')
                self.send_header("Set-Cookie", "a=1")
                self.send_header("Set-Cookie", "b=2")
                self.send_header("Connection", "keep-alive, X-Hop")
                self.send_header("X-Hop", "per-connection")
                self.send_header("Keep-Alive", "timeout=5")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in (seen, b"\n", b"x" * 300_000):
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_proxy_passes_the_request_and_the_answer_and_drops_hop_by_hop_headers(stack):
    import json

    echo = EchoUpstream()
    proc, port = stack.spawn_gateway(upstreams={"opportunity-svc": echo.url}, log_name="gateway-echo")
    origin = f"http://127.0.0.1:{port}"
    try:
        with client(origin) as http:
            sent = {"Authorization": "Bearer t0ken", "If-Match": '"6"', "Idempotency-Key": "k-1",
                    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "X-Request-ID": "req-1", "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "no",
                    "TE": "trailers", "X-Forwarded-For": "10.1.2.3", "Content-Type": "application/json"}
            resp = http.put("/v1/opportunities/a%2Fb/stage?x=1&y=%C3%A9", headers=sent, content=b'{"stage": 5}')
            assert resp.status_code == 201
            seen_line, _, rest = resp.content.partition(b"\n")
            assert rest == b"x" * 300_000  # the streamed body, whole
            seen = json.loads(seen_line)
            headers = dict(seen["headers"])
            assert seen["method"] == "PUT" and seen["body"] == '{"stage": 5}'
            assert seen["path"] == "/v1/opportunities/a%2Fb/stage?x=1&y=%C3%A9"  # raw, not re-encoded
            for name in ("authorization", "if-match", "idempotency-key", "traceparent", "x-request-id"):
                assert headers[name] == sent[{k.lower(): k for k in sent}[name]], name
            assert "x-secret-hop" not in headers and "te" not in headers
            assert headers["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
            assert headers["x-forwarded-proto"] == "http" and headers["x-forwarded-host"] == f"127.0.0.1:{port}"
            assert headers["host"] == echo.url.removeprefix("http://")

            assert resp.headers["location"] == f"{origin}/v1/opportunities/42"  # the upstream's origin, rewritten
            assert resp.headers["etag"] == '"7"'
            assert resp.headers.get_list("set-cookie") == ["a=1", "b=2"]
            assert "x-hop" not in resp.headers and "keep-alive" not in resp.headers

            assert json.loads(http.delete("/v1/pipeline/summary").content.partition(b"\n")[0])["method"] == "DELETE"
    finally:
        stop_process(proc)
        echo.close()
