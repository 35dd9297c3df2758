"""The errors a domain rule raises: plain Python, no web framework (the HTTP mapping is errors.py).

Domain modules import from here; `kam_shared.errors` maps each class to its RFC 9457 answer.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule said no. `field` names the input at fault; `extra` carries facts for the client."""

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class ValidationProblem(DomainError):
    """The input breaks a rule (422)."""


class NotFound(DomainError):
    """No such record, or one the caller may not see (404)."""


class Conflict(DomainError):
    """The record's state forbids it, or it already exists (409)."""


class Forbidden(DomainError):
    """The caller's role does not allow it (403)."""


class Unauthorized(DomainError):
    """No valid credentials (401)."""


class PreconditionFailed(DomainError):
    """The client's version is not the current one (412)."""


class TooManyRequests(DomainError):
    """Slow down (429)."""


class UpstreamUnavailable(DomainError):
    """A service this one depends on did not answer (503)."""
