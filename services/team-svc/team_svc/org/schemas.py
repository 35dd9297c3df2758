from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.events.team import OrgUnitKind


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    kind: OrgUnitKind
    parent_id: uuid.UUID | None = Field(default=None, description="required unless kind is company")
    manager_id: uuid.UUID | None = None


class OrgUnitPatch(BaseModel):
    """Only the fields sent change. A new `parent_id` moves the unit with everything below it."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent_id: uuid.UUID | None = None
    manager_id: uuid.UUID | None = None
    active: bool | None = None


class OrgUnitOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    parent_id: uuid.UUID | None
    company_id: uuid.UUID
    manager_id: uuid.UUID | None
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    depth: int | None = None
    member_count: int | None = None


class OrgUnitPage(BaseModel):
    items: list[OrgUnitOut]
    next_cursor: str | None


class TreeMember(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    role: str
    title: str | None
    superior_id: uuid.UUID | None
    active: bool


class TreeNode(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    parent_id: uuid.UUID | None
    company_id: uuid.UUID
    manager_id: uuid.UUID | None
    active: bool
    version: int
    members: list[TreeMember]
    children: list[TreeNode]


class OrgTree(BaseModel):
    roots: list[TreeNode]
    unplaced_users: list[TreeMember] = Field(description="people who belong to no org unit")
    unit_count: int
