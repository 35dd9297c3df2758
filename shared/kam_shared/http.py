"""HTTP conventions every route shares: ETag out, If-Match in (optimistic concurrency)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Response

from .domain_errors import PreconditionFailed

IF_MATCH_DESCRIPTION = "ETag of the version you changed; 412 if stale"
# The header parameter of every change route: `if_match: IfMatch = None`.
IfMatch = Annotated[str | None, Header(description=IF_MATCH_DESCRIPTION)]


def if_match_header(description: str = IF_MATCH_DESCRIPTION):
    """An If-Match parameter with its own wording (the contract keeps each route's text)."""
    return Annotated[str | None, Header(description=description)]


def etag(version: int) -> str:
    return f'"{version}"'


def with_etag(response: Response, body: Any, version: int | None = None) -> Any:
    """Sets the ETag from `version` (default: the body's own `version`) and returns the body."""
    response.headers["ETag"] = etag(body["version"] if version is None else version)
    return body


def check_if_match(if_match: str | None, version: int) -> None:
    """Optimistic concurrency: a client that sends If-Match must hold the current version."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if str(version) not in wanted:
        raise PreconditionFailed(f"resource is at version {version}; If-Match was {if_match}",
                                 current_version=version)
