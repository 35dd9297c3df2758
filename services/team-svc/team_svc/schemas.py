import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Literal["rep", "manager", "admin"]
    superior_id: uuid.UUID | None = None
    password: str = Field(min_length=4, max_length=200)


class UserPatch(BaseModel):
    """Only the fields sent change; `superior_id: null` makes the user top-level."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Literal["rep", "manager", "admin"] | None = None
    superior_id: uuid.UUID | None = None
    active: bool | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    superior_id: uuid.UUID | None
    active: bool
    version: int


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
