"""One HTTP origin for the browser console and API clients: the console's static files at `/`, and
`/v1/...` (and `/.well-known/...`) proxied to the owning service by path prefix.

The route table (ROUTES) is the one the Kubernetes Ingress is generated from (`kam ingress`
writes deploy/k8s/base/ingress.yaml; a test holds the committed file to it), so the gateway on a
laptop and the Ingress in a cluster cannot route differently.
"""
from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
from pathlib import Path

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from .errors import problem
from .services import SERVICES
from .settings import REPO_ROOT

log = logging.getLogger("kam.gateway")

# Path prefix → owning service. Prefix semantics are Kubernetes' pathType Prefix: whole path
# segments, so /v1/org matches /v1/org and /v1/org/tree but not /v1/org-units; the longest match
# wins. Not routed (they stay inside the cluster, per service): /healthz, /readyz, /metrics,
# /docs, and the operator routes under /v1/admin, which every service has.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/v1/accounts", "account-svc"),
    ("/v1/contacts", "account-svc"),
    ("/v1/plans", "account-svc"),
    ("/v1/interactions", "account-svc"),
    ("/v1/complaints", "account-svc"),
    ("/v1/competitors", "account-svc"),
    ("/v1/health-model", "account-svc"),
    ("/v1/opportunities", "opportunity-svc"),
    ("/v1/pipeline", "opportunity-svc"),
    ("/v1/stage-model", "opportunity-svc"),
    ("/v1/close-reasons", "opportunity-svc"),
    ("/v1/products", "opportunity-svc"),
    ("/v1/rollups", "forecast-svc"),
    ("/v1/forecasts", "forecast-svc"),
    ("/v1/forecast-principles", "forecast-svc"),
    ("/v1/forecast-categories", "forecast-svc"),
    ("/v1/forecast-accuracy", "forecast-svc"),
    ("/v1/pipeline-changes", "forecast-svc"),
    ("/v1/forecast-history", "forecast-svc"),
    ("/v1/funnel-health", "forecast-svc"),
    ("/v1/predictions", "forecast-svc"),
    ("/v1/funnel-norms", "forecast-svc"),
    ("/v1/exchange-rates", "forecast-svc"),
    # team-svc has a /v1/attainment too (closed-won against quota only); on one origin the path
    # can have one owner, and forecast-svc's answer is the superset (quota, won, live forecast, gap).
    ("/v1/attainment", "forecast-svc"),
    ("/v1/auth", "team-svc"),
    ("/v1/users", "team-svc"),
    ("/v1/hierarchy", "team-svc"),
    ("/v1/org", "team-svc"),
    ("/v1/org-units", "team-svc"),
    ("/v1/territories", "team-svc"),
    ("/v1/territory-plans", "team-svc"),
    ("/v1/quotas", "team-svc"),
    ("/v1/incentive-plans", "team-svc"),
    ("/v1/payouts", "team-svc"),
    ("/v1/capacity", "team-svc"),
    ("/v1/fiscal-calendar", "team-svc"),
    ("/.well-known", "team-svc"),
)

# Paths the gateway answers for itself with a problem when no route matches (never the console).
API_ROOTS = ("/v1", "/.well-known")

# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded; Host is
# the upstream's (httpx sets it), Content-Length is recomputed from the body actually sent.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"})
_NOT_FORWARDED_UP = HOP_BY_HOP | {"host", "content-length"}

for _ext, _type in ((".js", "text/javascript"), (".mjs", "text/javascript"), (".css", "text/css"),
                    (".svg", "image/svg+xml"), (".json", "application/json"), (".map", "application/json"),
                    (".woff2", "font/woff2"), (".woff", "font/woff"), (".wasm", "application/wasm"),
                    (".webmanifest", "application/manifest+json"), (".ico", "image/x-icon")):
    mimetypes.add_type(_type, _ext)  # slim containers have no /etc/mime.types

ASSET_CACHE = "public, max-age=31536000, immutable"  # Vite puts a content hash in every name under assets/


def route_for(path: str, routes=ROUTES) -> str | None:
    """The service owning `path`: the longest prefix that matches whole segments, else None."""
    best, owner = -1, None
    for prefix, service in routes:
        if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > best:
            best, owner = len(prefix), service
    return owner


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    host: str = "127.0.0.1"
    kam_gateway_port: int = 8000
    kam_console_dir: Path = REPO_ROOT / "web" / "dist"
    kam_account_svc_url: str = "http://127.0.0.1:8001"
    kam_opportunity_svc_url: str = "http://127.0.0.1:8002"
    kam_forecast_svc_url: str = "http://127.0.0.1:8003"
    kam_team_svc_url: str = "http://127.0.0.1:8004"
    # A refused connection fails at once; these bound an upstream that accepts but does not answer.
    kam_gateway_connect_timeout_s: float = 3.0
    kam_gateway_read_timeout_s: float = 30.0
    log_level: str = "INFO"

    def upstreams(self) -> dict[str, str]:
        return {name: getattr(self, f"kam_{name.removesuffix('-svc')}_svc_url").rstrip("/") for name in SERVICES}


CONSOLE_MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>KAM console not built</title></head>
<body><h1>The KAM console is not built</h1>
<p>Nothing in <code>{dir}</code>. Build it with <code>make web</code> (or <code>make run</code>, which builds it
first), then reload. The API is served here under <code>/v1/</code>.</p></body></html>
"""


def _has_extension(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name not in (".", "") and "." in name


class ConsoleFiles(StaticFiles):
    """The Vite build: hashed assets cached for a year, everything else revalidated (no-cache), and
    any other GET path answered with index.html so the SPA's router handles it (a reload on
    /opportunities/42 works). A missing asset, or any missing name with an extension, stays 404: a
    script URL must never get HTML."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not (Path(self.directory) / "index.html").is_file():
            return HTMLResponse(CONSOLE_MISSING.format(dir=self.directory), status_code=503,
                                headers={"Cache-Control": "no-store"})
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith("assets/") or _has_extension(path):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = ASSET_CACHE if path.startswith("assets/") else "no-cache"
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await problem(405, "Method not allowed", f"{scope['method']} is not allowed on the console",
                          scope["path"], headers={"Allow": "GET, HEAD"})(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except HTTPException as exc:
            await problem(exc.status_code, "Not found" if exc.status_code == 404 else str(exc.detail),
                          f"no console file at {scope['path']}", scope["path"])(scope, receive, send)

    async def check_config(self) -> None:
        """No check at start: the build may land after the gateway started (get_response says so)."""


class Proxy:
    """Forwards a request to its owning service and streams the answer back unchanged, but for the
    hop-by-hop headers and an absolute Location on the upstream's origin."""

    def __init__(self, upstreams: dict[str, str], client: httpx.AsyncClient):
        self.upstreams = upstreams
        self.client = client

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        service = route_for(path)
        if service is None:
            return problem(404, "Not found", f"no service serves {path}", path)
        base = self.upstreams[service]
        raw_path = request.scope.get("raw_path") or path.encode()
        query = request.scope.get("query_string") or b""
        url = base + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        upstream_request = self.client.build_request(
            request.method, url, headers=self._headers_up(request), content=await request.body())
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("%s unreachable at %s: %s", service, base, exc)
            return problem(503, "Service unavailable", f"{service} is not reachable; try again shortly", path,
                           headers={"Retry-After": "5"}, service=service)
        except httpx.TimeoutException:
            log.warning("%s did not answer %s %s in time", service, request.method, path)
            return problem(504, "Gateway timeout", f"{service} did not answer in time", path, service=service)
        except httpx.TransportError as exc:
            log.warning("%s broke off %s %s: %s", service, request.method, path, exc)
            return problem(502, "Bad gateway", f"{service} answered with a broken response", path, service=service)
        response = StreamingResponse(_body(upstream), status_code=upstream.status_code)
        response.raw_headers = self._headers_down(upstream, base, request)
        return response

    @staticmethod
    def _headers_up(request: Request) -> list[tuple[str, str]]:
        named_in_connection = {h.strip().lower() for h in request.headers.get("connection", "").split(",")}
        headers = [(k, v) for k, v in request.headers.items()
                   if k not in _NOT_FORWARDED_UP and k not in named_in_connection
                   and not k.startswith("x-forwarded-")]
        client = request.client.host if request.client else ""
        prior = request.headers.get("x-forwarded-for")
        headers.append(("x-forwarded-for", f"{prior}, {client}" if prior else client))
        headers.append(("x-forwarded-proto", request.headers.get("x-forwarded-proto") or request.url.scheme))
        headers.append(("x-forwarded-host", request.headers.get("x-forwarded-host") or request.headers.get("host", "")))
        return headers

    @staticmethod
    def _headers_down(upstream: httpx.Response, base: str, request: Request) -> list[tuple[bytes, bytes]]:
        named_in_connection = {h.strip().lower() for h in upstream.headers.get("connection", "").split(",")}
        origin = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
        out = []
        for key, value in upstream.headers.multi_items():
            k = key.lower()
            if k in HOP_BY_HOP or k in named_in_connection:
                continue
            if k in ("location", "content-location") and value.startswith(base + "/"):
                value = origin + value[len(base):]
            out.append((k.encode("latin-1"), value.encode("latin-1")))
        return out


async def _body(upstream: httpx.Response):
    """The upstream's bytes as they came (still compressed if it compressed them), then close it."""
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:  # the status is sent already: all we can do is stop the body
        log.warning("upstream broke off a response body: %s", exc)
    finally:
        await upstream.aclose()


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    timeout = httpx.Timeout(settings.kam_gateway_read_timeout_s, connect=settings.kam_gateway_connect_timeout_s)
    # trust_env off: an HTTP(S)_PROXY in the environment must not catch calls to the services.
    client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                               limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
    proxy = Proxy(settings.upstreams(), client)
    console = GZipMiddleware(ConsoleFiles(directory=settings.kam_console_dir, check_dir=False), minimum_size=512)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        try:
            yield
        finally:
            await client.aclose()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes = [Route("/healthz", healthz, methods=["GET"])]
    for root in API_ROOTS:
        routes += [Route(root, proxy.handle, methods=methods),
                   Route(root + "/{rest:path}", proxy.handle, methods=methods)]
    routes.append(Mount("/", app=console))
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "unexpected error in the gateway; it has been logged", request.url.path)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: unexpected})
    app.state.settings = settings
    return app


def serve() -> None:
    """`kam gateway`: the gateway on $HOST:$KAM_GATEWAY_PORT."""
    import uvicorn

    from .observability import configure_logging

    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level)
    log.info("gateway on %s:%s, console from %s, upstreams %s", settings.host, settings.kam_gateway_port,
             settings.kam_console_dir, settings.upstreams())
    uvicorn.run(create_app(settings), host=settings.host, port=settings.kam_gateway_port, log_config=None,
                access_log=False, proxy_headers=False, server_header=False)


def ingress_yaml(routes=ROUTES) -> str:
    """deploy/k8s/base/ingress.yaml, from ROUTES: the API prefixes (longest first is not needed:
    Kubernetes picks the longest match itself), then `/` → the console, last."""
    ports = {name: info.port for name, info in SERVICES.items()}
    lines = [
        "# GENERATED by `kam ingress` from kam_shared.gateway.ROUTES (the same table the local gateway",
        "# routes by); tests/test_gateway_routes.py fails when this file and the table differ.",
        "# One host for web and mobile clients: routes by path prefix to the owning service.",
        "# pathType Prefix matches whole path segments (/v1/accounts matches /v1/accounts/{id}, not",
        "# /v1/accountsx) and the longest matching path wins, so `/` (the console) takes only what no",
        "# API prefix matches. /healthz, /readyz, /metrics, /docs and /v1/admin are not routed: they",
        "# stay in-cluster. TLS is terminated here: create the certificate's Secret kam-tls first",
        "# (`kubectl create secret tls kam-tls --cert=… --key=…`, or cert-manager) and patch the host",
        "# kam.example.com in an overlay; plain HTTP is redirected to HTTPS, and the services send HSTS",
        "# once they see X-Forwarded-Proto: https from the controller (KAM_TRUSTED_PROXIES). Set",
        "# ingressClassName in an overlay; without it the cluster's default IngressClass is used.",
        "apiVersion: networking.k8s.io/v1",
        "kind: Ingress",
        "metadata:",
        "  name: kam",
        "  annotations:",
        '    nginx.ingress.kubernetes.io/ssl-redirect: "true"',
        '    nginx.ingress.kubernetes.io/force-ssl-redirect: "true"',
        "spec:",
        "  tls:",
        "    - hosts:",
        f"        - {INGRESS_HOST}",
        "      secretName: kam-tls",
        "  rules:",
        f"    - host: {INGRESS_HOST}",
        "      http:",
        "        paths:",
    ]
    current = None
    for prefix, service in [*routes, ("/", "console")]:
        if service != current:
            lines.append(f"          # {service}")
            current = service
        port = ports.get(service, CONSOLE_PORT)
        lines += [f"          - path: {prefix}", "            pathType: Prefix", "            backend:",
                  "              service:", f"                name: {service}", "                port:",
                  f"                  number: {port}"]
    return "\n".join(lines) + "\n"


INGRESS_HOST = "kam.example.com"  # the example host of the generated Ingress (an overlay sets the real one)
CONSOLE_PORT = 8000  # the console's container port in docker-compose and Kubernetes (the gateway's default)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    serve()
