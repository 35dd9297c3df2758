"""API models of the auth slice: tokens and signing keys."""
import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class Token(BaseModel):
    access_token: str = Field(description="RS256 JWT (typ at+jwt), good for `expires_in` seconds")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str | None = Field(
        default=None, description="opaque; exchange it once with grant_type=refresh_token for a new pair (a "
                                  "second use revokes the sign-in's every token). None while the password must be "
                                  "changed")
    refresh_expires_in: int | None = None


class SigningKeyOut(BaseModel):
    kid: str
    source: str
    status: Literal["signing", "verifying", "retired"]
    activated_at: dt.datetime
    superseded_at: dt.datetime | None
    valid_until: dt.datetime | None


class Rotation(BaseModel):
    kid: str
    activated_at: dt.datetime
    previous_kid: str | None
    previous_valid_until: dt.datetime | None


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of every service is answered."""
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    reason: str | None = None
    retry_after: int | None = None


_MEANING = {
    401: "no valid bearer token, or (sign-in) wrong email or password, or a refresh token that is unknown, "
         "expired, revoked or reused (`reason` says which)",
    403: "not allowed; reason password_change_required while the password must be changed first",
    404: "no such user",
    422: "invalid input; `field` names it (a password breaking the policy among others)",
    429: "too many failed sign-ins (or hashes queued): wait `Retry-After` seconds",
}


def problems(*statuses: int) -> dict:
    """The error answers a route declares in its OpenAPI (problem+json; Retry-After on 429)."""
    out = {}
    for status in statuses:
        out[status] = {"description": _MEANING[status],
                       "content": {"application/problem+json": {"schema": Problem.model_json_schema()}}}
        if status == 429:
            out[status]["headers"] = {"Retry-After": {"description": "seconds to wait",
                                                      "schema": {"type": "integer"}}}
    return out
