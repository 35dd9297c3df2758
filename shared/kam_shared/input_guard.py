"""Input that no route should ever see, refused once for every service before routing, auth and
parsing: a body over the size limit (413) and control characters in any path parameter, query
parameter, form field or JSON string (422 naming the field).

Why here and not in each schema: PostgreSQL refuses NUL in text (and in JSONB) and a lone
surrogate cannot be encoded, so such a string reaching SQL was a 500 on every route that stores or
filters by text; a middleware covers every route, the unauthenticated token route included, and
every route added later. Tab, newline and carriage return are allowed in body strings (free
text: notes, descriptions), never in path or query parameters.

Plain ASGI (no BaseHTTPMiddleware): the body is counted as it arrives and handed on unchanged.
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

from .errors import problem

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# C0 controls and DEL, lone UTF-16 surrogates (not encodable as UTF-8), and the C1 controls.
_CONTROL_IN_PARAM = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class BodyTooLarge(Exception):
    pass


class InputGuardMiddleware:
    def __init__(self, app, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return await self._too_large(scope, receive, send)
        bad = _bad_path_or_query(scope)
        if bad is not None:
            return await _refuse(bad, scope, receive, send)
        if scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        try:
            body, disconnected = await _read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            return await self._too_large(scope, receive, send)
        bad = _bad_body(body, headers.get(b"content-type", b""))
        if bad is not None:
            return await _refuse(bad, scope, receive, send)
        await self.app(scope, _replay(body, disconnected, receive), send)

    async def _too_large(self, scope, receive, send):
        await problem(413, "Request body too large", f"the request body may be at most {self.max_body_bytes} bytes",
                      scope.get("path"), max_bytes=self.max_body_bytes,
                      headers={"Connection": "close"})(scope, receive, send)


async def _refuse(field: str, scope, receive, send):
    await problem(422, "Validation failed", f"{field}: control characters are not allowed", scope.get("path"),
                  field=field, errors=[{"field": field, "message": "control characters are not allowed"}]
                  )(scope, receive, send)


def _bad_path_or_query(scope) -> str | None:
    """The name of the first path or query parameter holding a control character, or None."""
    path = scope.get("path", "")
    if _CONTROL_IN_PARAM.search(path):
        return _path_param_at_fault(scope) or "path"
    query = scope.get("query_string", b"")
    if b"%" in query or _CONTROL_IN_PARAM.search(query.decode("latin-1")):
        try:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                              errors="surrogateescape")
        except ValueError:
            return "query"
        for name, value in pairs:
            if _CONTROL_IN_PARAM.search(name) or _CONTROL_IN_PARAM.search(value):
                return _printable(name)
    return None


def _path_param_at_fault(scope) -> str | None:
    """Only on the (rare) bad path: match the documented path templates to name the parameter."""
    app = scope.get("app")
    if app is None or not hasattr(app, "openapi"):
        return None
    path = scope.get("path", "")
    for template in _path_templates(app):
        match = template.fullmatch(path)
        if match:
            for name, value in match.groupdict().items():
                if _CONTROL_IN_PARAM.search(value):
                    return name
    return None


def _path_templates(app) -> list[re.Pattern]:
    templates = getattr(app.state, "path_templates", None)
    if templates is None:
        templates = [re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)))
                     for path in app.openapi().get("paths", {})]
        app.state.path_templates = templates
    return templates


def _bad_body(body: bytes, content_type: bytes) -> str | None:
    if not body:
        return None
    kind = content_type.split(b";")[0].strip().lower()
    if kind == b"application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                              errors="surrogateescape")
        except ValueError:
            return None  # the framework's own parser answers for a malformed form
        for name, value in pairs:
            if _CONTROL_IN_PARAM.search(name) or _CONTROL_IN_TEXT.search(value):
                return _printable(name)
        return None
    # JSON: a raw control character in a string is already invalid JSON (400 from the parser), so
    # only an escape (\u0000, \ud800) can smuggle one in. Bodies without a backslash-u skip the walk.
    if b"\\u" not in body and b"\\U" not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _bad_in(document, "")


def _bad_in(value, where: str) -> str | None:
    """Dotted path (`contacts.0.name`) of the first string or object key with a control character."""
    if isinstance(value, str):
        return (where or "body") if _CONTROL_IN_TEXT.search(value) else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_in(item, f"{where}.{index}" if where else str(index))
            if found:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else key
            if _CONTROL_IN_PARAM.search(key):
                return _printable(name)
            found = _bad_in(item, name)
            if found:
                return found
    return None


def _printable(name: str) -> str:
    """A field name fit to echo back: its control characters shown as escapes."""
    return _CONTROL_IN_PARAM.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode(), name)


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    """The whole body, counted as it arrives (a chunked upload has no Content-Length to trust)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, disconnected: bool, receive):
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            if disconnected:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

