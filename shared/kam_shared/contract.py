"""The OpenAPI contract, written once for every service: what each operation can really answer.

FastAPI documents the happy path and a 422 shaped like its own `HTTPValidationError`, which is not
what we send. `service_openapi(app)` post-processes FastAPI's document so that a client generated
from it (openapi-python-client, openapi-typescript) understands every answer:

- one `Problem` schema (RFC 9457, the body `kam_shared.errors.problem` builds) under
  `application/problem+json`, referenced by every error response;
- the error statuses an operation can give, derived from the route itself: 401 and the bearer
  `security` where the auth dependency runs, 404/422 for path ids and parameters, 400 for a
  malformed JSON body, 412 where If-Match is read, 409/422 for the Idempotency-Key on
  authenticated POSTs, and the statuses of the domain errors (`kam_shared.domain_errors`) that
  the route's code can raise, found by following the functions it calls (`raised_statuses`);
- the headers: `ETag` and `Location` where the route sets them, `Idempotent-Replayed` on replayable
  answers, `Retry-After` and `WWW-Authenticate` where sent; `Idempotency-Key` as a request header.

A route adds what cannot be derived with `responses=problem_responses(409, ...)`.
"""
from __future__ import annotations

import inspect
import re
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from .auth import current_principal
from .domain_errors import DomainError
from .errors import HTTP_PROBLEM, PROBLEM
from .idempotency import MAX_KEY_LENGTH

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMAS: dict[str, dict] = {
    "Problem": {
        "title": "Problem",
        "type": "object",
        "description": "RFC 9457 problem details: every error answer of every KAM service has this shape.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "always `about:blank`: the status says what happened"},
            "title": {"type": "string", "description": "short summary of the status, e.g. `Validation failed`"},
            "status": {"type": "integer", "description": "the HTTP status code, repeated"},
            "detail": {"type": "string", "description": "what is wrong, naming the field or the reason"},
            "instance": {"type": "string", "description": "the request path"},
            "field": {"type": "string", "description": "the input at fault, when one is"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"},
                       "description": "422 validation: one item per invalid input"},
            "existing_id": {"type": "string", "description": "409 duplicate: id of the record that already exists"},
            "match": {"type": "string", "description": "409 duplicate: the field that matched, e.g. `credit_code`"},
            "current_version": {"type": "integer", "description": "412: the version the record is at now"},
            "retry_after": {"type": "integer", "description": "429: seconds to wait before trying again"},
        },
        "additionalProperties": True,
    },
    "ProblemFieldError": {
        "title": "ProblemFieldError",
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "dotted path of the input, e.g. `lines.0.amount`"},
            "message": {"type": "string", "description": "why it is invalid"},
        },
    },
}

# What each status means in this API (the description of the declared response).
STATUS_MEANING = {
    400: "Malformed request (the body is not valid JSON)",
    401: "Missing, invalid or expired bearer token, or the user is deactivated",
    403: "The caller's role does not allow it, or the user must change their password first "
         "(`reason: password_change_required`)",
    404: "No such record, or one the caller may not see",
    409: "Conflict: the record's state forbids it, it already exists, or a request with the same "
         "Idempotency-Key is still running",
    412: "If-Match names a version that is no longer current (`current_version` says which is)",
    413: "Request body too large",
    422: "Validation failed: `errors[]` names each field (also a bad or reused Idempotency-Key)",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "A service this one depends on did not answer",
}

ETAG_HEADER = {"description": "the record's version, to send back in If-Match", "schema": {"type": "string"}}
LOCATION_HEADER = {"description": "path of the created record", "schema": {"type": "string"}}
REPLAYED_HEADER = {"description": "`true` when this is the stored answer to an earlier request with the same "
                                  "Idempotency-Key", "schema": {"type": "string", "enum": ["true"]}}
RETRY_AFTER_HEADER = {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}
WWW_AUTHENTICATE_HEADER = {"description": "the bearer challenge", "schema": {"type": "string"}}
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "retrying with the same key returns the first answer (with Idempotent-Replayed: true) "
                   "instead of doing it twice; 409 while the first is still running, 422 if reused for "
                   "a different request",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problem_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route for the error statuses that cannot be derived from its code (the
    Problem body is filled in by `service_openapi`). `descriptions`: `s409="..."` overrides the
    wording of one status."""
    return {status: {"description": descriptions.get(f"s{status}", STATUS_MEANING.get(status, "Error"))}
            for status in statuses}


# ---- what a route's code can raise -----------------------------------------------------------

_STATUS_OF_ERROR_NAME = {cls.__name__: status for cls, (status, _title) in HTTP_PROBLEM.items()
                         if cls is not DomainError}
_ERROR_CALL = re.compile(r"\b(" + "|".join(_STATUS_OF_ERROR_NAME) + r")\(")


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _names_used(func: Callable) -> set[str]:
    return {name for code in _code_objects(func.__code__) for name in code.co_names}


def _ours(obj: Any, packages: tuple[str, ...]) -> bool:
    module = getattr(obj, "__module__", None) or getattr(obj, "__name__", "")
    return any(module == p or module.startswith(p + ".") for p in packages)


def _methods_by_name(packages: tuple[str, ...]) -> dict[str, list[Callable]]:
    """Every method of the project's classes, by name: `opp.advance(...)` names `advance` only."""
    index: dict[str, list[Callable]] = {}
    for module in list(sys.modules.values()):
        if not isinstance(module, types.ModuleType) or not _ours(module, packages):
            continue
        for cls in list(vars(module).values()):
            if not inspect.isclass(cls) or cls.__module__ != module.__name__ or issubclass(cls, BaseException):
                continue
            for name, member in list(vars(cls).items()):
                member = getattr(member, "__func__", getattr(member, "fget", member))
                if inspect.isfunction(member):
                    index.setdefault(name, []).append(member)
    return index


def _callees(func: Callable, packages: tuple[str, ...], methods: dict[str, list[Callable]]) -> Iterable[Callable]:
    """The project's functions `func` may call: names it uses that are functions in its globals,
    attributes with those names of the project's modules it uses (`service.open_account`), methods
    of the project's classes with those names (`account.require_live()`), and the constructors of
    the classes it names. By name, not by type: it may include a method of another class with
    the same name (an over-declaration), never miss a call it makes."""
    names = _names_used(func)
    scope = getattr(func, "__globals__", {})
    found: list[Any] = []
    for name in names:
        target = scope.get(name)
        if isinstance(target, types.ModuleType) and _ours(target, packages):
            found.extend(getattr(target, attr) for attr in names if hasattr(target, attr))
        elif target is not None:
            found.append(target)
        found.extend(methods.get(name, ()))
    for target in found:
        if inspect.isclass(target) and _ours(target, packages) and not issubclass(target, BaseException):
            found.extend(m for m in (vars(target).get("__init__"), vars(target).get("__post_init__")) if m)
        elif inspect.isfunction(target) and _ours(target, packages):
            yield target


def raised_statuses(endpoint: Callable, packages: tuple[str, ...]) -> set[int]:
    """HTTP statuses of the domain errors that `endpoint`, or anything it calls in `packages`,
    constructs (a raise or a factory such as `_too_many`)."""
    statuses: set[int] = set()
    seen: set[Any] = set()
    methods = _methods_by_name(packages)
    todo = [inspect.unwrap(endpoint)]
    while todo:
        func = todo.pop()
        if func in seen or not hasattr(func, "__code__"):
            continue
        seen.add(func)
        try:
            source = inspect.getsource(func)
        except (OSError, TypeError):
            continue
        statuses.update(_STATUS_OF_ERROR_NAME[name] for name in _ERROR_CALL.findall(source))
        todo.extend(_callees(func, packages, methods))
    return statuses


# ---- what a route reads and sets -------------------------------------------------------------

def _dependants(dependant: Dependant) -> Iterable[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _sets_header(endpoint: Callable, packages: tuple[str, ...], header: str) -> bool:
    """Whether the endpoint, or a helper of its module it calls, sets `header` (ETag: `with_etag`)."""
    patterns = {"ETag": r"with_etag\(|\[\"ETag\"\]", "Location": r"\[\"Location\"\]"}[header]
    funcs = [inspect.unwrap(endpoint)]
    funcs += [f for f in _callees(funcs[0], packages, {}) if f.__module__ == funcs[0].__module__]
    for func in funcs:
        try:
            if re.search(patterns, inspect.getsource(func)):
                return True
        except (OSError, TypeError):
            continue
    return False


class RouteFacts:
    """What the contract says about one route, derived from its dependencies and code."""

    def __init__(self, route: Any, packages: tuple[str, ...]):
        deps = list(_dependants(route.dependant))
        self.authenticated = any(d.call is current_principal for d in deps)
        flat = route.dependant
        self.has_path = bool(flat.path_params) or any(d.path_params for d in deps)
        self.has_input = any(d.path_params or d.query_params or d.header_params or d.body_params for d in deps)
        self.json_body = bool(route.body_field) and not any(
            type(p.field_info).__name__ == "Form" for d in deps for p in d.body_params)
        self.if_match = any(p.alias.lower() == "if-match" for d in deps for p in d.header_params)
        self.idempotent_post = "POST" in route.methods and self.authenticated
        self.etag = _sets_header(route.endpoint, packages, "ETag")
        self.location = _sets_header(route.endpoint, packages, "Location")
        self.raised = raised_statuses(route.endpoint, packages)
        if not self.if_match:
            # PreconditionFailed comes from check_if_match only: no If-Match read, no 412.
            self.raised.discard(412)

    def error_statuses(self) -> set[int]:
        statuses = set(self.raised)
        if self.authenticated:
            # 403 too: a token issued while the user must change their password opens only the
            # change route (kam_shared.auth: reason password_change_required), whatever the role.
            statuses.update((401, 403))
        if self.has_path:
            statuses.add(404)
        if self.has_input or self.idempotent_post:
            statuses.add(422)
        if self.json_body:
            statuses.update((400, 413))  # 413: over KAM_MAX_BODY_BYTES (kam_shared.input_guard), before parsing
        if self.if_match:
            statuses.add(412)
        if self.idempotent_post:
            statuses.add(409)
        return statuses


def _problem_response(status: int, declared: dict | None) -> dict:
    # FastAPI's own 422 ("Validation Error", HTTPValidationError) is replaced, wording and all.
    wording = None if status == 422 else (declared or {}).get("description")
    response = {"description": wording or STATUS_MEANING.get(status, "Error"),
                "content": {PROBLEM: {"schema": PROBLEM_REF}}}
    headers = dict((declared or {}).get("headers", {}))
    if status == 401:
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE_HEADER)
    if status in (409, 429):
        headers.setdefault("Retry-After", RETRY_AFTER_HEADER)
    if headers:
        response["headers"] = headers
    return response


def _declare(operation: dict, facts: RouteFacts) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(facts.error_statuses() | {int(s) for s in responses if str(s)[0] in "45"}):
        responses[str(status)] = _problem_response(status, responses.get(str(status)))
    for status, response in responses.items():
        if not str(status).startswith("2"):
            continue
        headers = response.setdefault("headers", {})
        if facts.etag:
            headers["ETag"] = ETAG_HEADER
        if facts.location and status == "201":
            headers["Location"] = LOCATION_HEADER
        if facts.idempotent_post:
            headers["Idempotent-Replayed"] = REPLAYED_HEADER
        if not headers:
            del response["headers"]
    if facts.idempotent_post:
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
    if not facts.authenticated:
        operation.pop("security", None)


def _without_fastapi_validation_schemas(document: dict) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    text = str(document["paths"])
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        if f"#/components/schemas/{name}'" not in text:
            schemas.pop(name, None)


def service_openapi(app: FastAPI) -> dict:
    """The service's OpenAPI document with the contract's errors, headers and security (cached)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                           description=app.description, routes=app.routes)
    # Routes of included routers come as contexts (the route with its router's prefix and dependencies).
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        # Whose code is followed for raised errors: the route's own service package and the plumbing.
        packages = ("kam_shared", inspect.unwrap(route.endpoint).__module__.split(".")[0])
        facts = RouteFacts(route, packages)
        path_item = document["paths"].get(route.path_format, {})
        for method in route.methods:
            operation = path_item.get(method.lower())
            if operation is not None:
                _declare(operation, facts)
    _without_fastapi_validation_schemas(document)
    document["components"]["schemas"].update(PROBLEM_SCHEMAS)
    app.openapi_schema = document
    return document
