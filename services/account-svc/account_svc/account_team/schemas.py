"""Bodies of the account team routes."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from ..common import vocabulary as v

TeamRole = Literal[v.ACCOUNT_TEAM_ROLES]


class TeamMemberIn(BaseModel):
    role: TeamRole


class AccountTeamMemberOut(BaseModel):
    user_id: uuid.UUID
    name: str | None = Field(default=None, description="from the user replica")
    role: TeamRole | Literal["account_manager"]
    owner: bool = Field(description="true for the account manager (the single owner), listed first")
    added_at: dt.datetime | None = None
    added_by: uuid.UUID | None = None


class AccountTeamOut(BaseModel):
    account_id: uuid.UUID
    version: int = Field(description="the account's version (a team change is a change of the account)")
    members: list[AccountTeamMemberOut]
