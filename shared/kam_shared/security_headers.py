"""Response headers every service sets, and its CORS policy (the same for all four, from settings).

- `X-Content-Type-Options: nosniff`, `Content-Security-Policy: frame-ancestors 'none'` with
  `X-Frame-Options: DENY` for older browsers, `Referrer-Policy: no-referrer`.
- `Cache-Control: no-store` on every `/v1` answer that sets no policy of its own: they carry
  tokens and personal or commercial data that no shared or browser cache should keep. The JWKS
  (outside /v1) keeps its public max-age.
- `Strict-Transport-Security` only on a request that arrived over TLS: uvicorn serving TLS
  itself, or a trusted proxy (`KAM_TRUSTED_PROXIES`, uvicorn's forwarded-allow-ips) saying
  `X-Forwarded-Proto: https`. Off by default: a plain-HTTP dev stack must not pin browsers.
- CORS only for the origins in `KAM_CORS_ALLOW_ORIGINS` (comma-separated; empty: no CORS headers
  at all, the console is served from the same origin as the API).
"""
from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

HSTS = b"max-age=31536000; includeSubDomains"
ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        over_tls = scope.get("scheme") == "https"
        api = scope.get("path", "").startswith("/v1/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in ALWAYS if k not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                if over_tls:
                    headers.append((b"strict-transport-security", HSTS))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def allowed_origins(setting: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip()]


def install_security_headers(app: FastAPI, cors_allow_origins: str) -> None:
    app.add_middleware(SecurityHeadersMiddleware)
    origins = allowed_origins(cors_allow_origins)
    if origins:  # outermost: a preflight is answered before auth or body checks run
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key",
                                          "X-Request-ID"],
                           expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
                           max_age=600)
