"""The HTTP side of errors: each domain error (domain_errors.py) mapped to RFC 9457 problem+json,
the same in every service."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException

from .domain_errors import (  # noqa: F401 - re-exported: the names every service imports from here
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PreconditionFailed,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
    ValidationProblem,
)

log = logging.getLogger("kam.errors")
PROBLEM = "application/problem+json"


# Each domain error's HTTP answer: status and problem title (first match along the class's MRO).
HTTP_PROBLEM: dict[type[DomainError], tuple[int, str]] = {
    DomainError: (400, "Bad request"),
    ValidationProblem: (422, "Validation failed"),
    NotFound: (404, "Not found"),
    Conflict: (409, "Conflict"),
    Forbidden: (403, "Forbidden"),
    Unauthorized: (401, "Unauthorized"),
    PreconditionFailed: (412, "Precondition failed"),
    TooManyRequests: (429, "Too many requests"),
    UpstreamUnavailable: (503, "Dependency unavailable"),
}


def http_problem_of(exc: DomainError) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in HTTP_PROBLEM:
            return HTTP_PROBLEM[cls]
    return HTTP_PROBLEM[DomainError]


def problem(status: int, title: str, detail: str, instance: str | None = None, headers=None, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field_path(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        headers = exc.extra.pop("headers", None) if exc.extra else None
        status, title = http_problem_of(exc)
        return problem(status, title, exc.detail, str(request.url.path), headers=headers,
                       field=exc.field, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        malformed = False
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                malformed = True
            errors.append({"field": _field_path(err.get("loc", ())), "message": err.get("msg", "invalid")})
        if malformed:
            return problem(400, "Malformed JSON", "request body is not valid JSON", str(request.url.path))
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Validation failed", detail, str(request.url.path), errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return problem(exc.status_code, str(exc.detail) if exc.status_code != 404 else "Not found",
                       str(exc.detail), str(request.url.path), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)  # last resort, for an error in a middleware outside UnhandledErrorMiddleware
    async def _unhandled(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "unexpected error; it has been logged", str(request.url.path))

    app.add_middleware(UnhandledErrorMiddleware)


class UnhandledErrorMiddleware:
    """A route's unexpected error becomes a 500 problem+json here, and is not raised further.

    Starlette's own handler for `Exception` answers and then re-raises (so the server logs it),
    and uvicorn closes the connection of any request whose app raised: every 500 cost the client
    its keep-alive connection. Added first, so it sits inside the idempotency and metrics
    middlewares, which see the 500 like any other answer. Only when the answer had already begun
    is the error raised on (the connection is then broken anyway)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope["method"], scope.get("path"))
            trace.get_current_span().record_exception(exc)
            if started:
                raise
            await problem(500, "Internal error", "unexpected error; it has been logged",
                          scope.get("path"))(scope, receive, send)
