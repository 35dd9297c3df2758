"""API models of the users slice: people, their reporting lines, their history."""
import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["rep", "manager", "admin"]
PASSWORD_RULES = ("12 to 200 characters; not one of the 30,000 most common passwords; not containing the "
                  "email's local part or the user's name (NIST SP 800-63B)")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    superior_id: uuid.UUID | None = None
    password: str = Field(min_length=12, max_length=200, description=PASSWORD_RULES)
    org_unit_id: uuid.UUID | None = Field(default=None, description="the org unit the user belongs to")
    title: str | None = Field(default=None, max_length=200)


class UserPatch(BaseModel):
    """Only the fields sent change; `superior_id: null` makes the user top-level, `org_unit_id: null`
    takes them out of any unit."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    superior_id: uuid.UUID | None = None
    org_unit_id: uuid.UUID | None = None
    title: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    superior_id: uuid.UUID | None
    active: bool
    version: int
    org_unit_id: uuid.UUID | None = None
    title: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class SubtreeMember(UserOut):
    depth: int = Field(description="levels below the root (the root is 0)")


class Subtree(BaseModel):
    root_id: uuid.UUID
    count: int
    users: list[SubtreeMember]


class ChainMember(UserOut):
    level: int = Field(description="1 = direct superior, 2 = their superior, …")


class Chain(BaseModel):
    user_id: uuid.UUID
    chain: list[ChainMember]


class IsAbove(BaseModel):
    superior_id: uuid.UUID
    subordinate_id: uuid.UUID
    is_above: bool


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=12, max_length=200, description=PASSWORD_RULES)


class PasswordReset(BaseModel):
    """Without `temporary_password` team-svc makes one up and answers it (once)."""
    model_config = ConfigDict(extra="forbid")
    temporary_password: str | None = Field(default=None, min_length=12, max_length=200, description=PASSWORD_RULES)


class SessionsRevoked(BaseModel):
    user_id: uuid.UUID
    revoked_sessions: int = Field(description="sign-ins whose refresh tokens were live and are now revoked")


class PasswordResetOut(BaseModel):
    user_id: uuid.UUID
    must_change_password: bool
    temporary_password: str | None = Field(description="the generated password; null when the admin chose one")
