"""HTTP conventions every route shares: ETag out, If-Match in (optimistic concurrency)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import AfterValidator, AwareDatetime

from .domain_errors import PreconditionFailed

# The largest value a PostgreSQL INTEGER column holds: the `le` of every integer input stored in one,
# so a bigger number is a 422 naming the field instead of the database's overflow error (a 500).
INT_MAX = 2**31 - 1

# The years a business date or time given to the API may fall in (the same as a period's). Python's
# dates end at 9999-12-31, so a time near either end with an offset, or a day whose month end or
# next day is computed, would overflow (a 500) instead of being refused.
INPUT_YEARS = range(1900, 3000)


def _in_input_years(value: dt.date) -> dt.date:
    if value.year not in INPUT_YEARS:
        raise ValueError(f"must be within the years {INPUT_YEARS.start}..{INPUT_YEARS.stop - 1}")
    return value


# A day (`2026-11-15`) and an instant with its zone (`2026-11-15T09:30:00+08:00`) as API input.
Day = Annotated[dt.date, AfterValidator(_in_input_years)]
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_input_years)]

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
