"""API models of the auth slice: tokens and signing keys."""
import datetime as dt
from typing import Literal

from pydantic import BaseModel


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


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
