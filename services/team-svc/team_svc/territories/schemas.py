from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.events.team import SizeBand
from kam_shared.http import INT_MAX


class RuleIn(BaseModel):
    """Every non-empty criterion must hold (an empty list = any value); priority 1 is checked first."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(ge=1, le=1_000_000)
    regions: list[str] = Field(default_factory=list, max_length=500)
    industries: list[str] = Field(default_factory=list, max_length=500)
    size_bands: list[SizeBand] = Field(default_factory=list)
    account_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000, description="named accounts")


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = Field(default=None, ge=1, le=1_000_000)
    regions: list[str] | None = Field(default=None, max_length=500)
    industries: list[str] | None = Field(default=None, max_length=500)
    size_bands: list[SizeBand] | None = None
    account_ids: list[uuid.UUID] | None = Field(default=None, max_length=5000)


class RuleOut(BaseModel):
    id: uuid.UUID
    name: str
    priority: int
    regions: list[str]
    industries: list[str]
    size_bands: list[str]
    account_ids: list[uuid.UUID]


class TerritoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    parent_id: uuid.UUID | None = None
    owner_id: uuid.UUID = Field(description="the account manager new accounts of this territory go to")
    org_unit_id: uuid.UUID | None = None
    description: str | None = Field(default=None, max_length=4000)
    rules: list[RuleIn] = Field(default_factory=list, max_length=1000)


class TerritoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    org_unit_id: uuid.UUID | None = None
    description: str | None = Field(default=None, max_length=4000)
    active: bool | None = None


class PathEntry(BaseModel):
    id: uuid.UUID
    name: str | None


class TerritoryOut(BaseModel):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID
    org_unit_id: uuid.UUID | None
    description: str | None
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    rules: list[RuleOut]
    path: list[PathEntry] | None = None


class TerritoryPage(BaseModel):
    items: list[TerritoryOut]
    next_cursor: str | None


class MatchIn(BaseModel):
    """The account profile to place. `size_band` wins over `employees` when both are given."""
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID | None = None
    region: str | None = Field(default=None, max_length=100)
    industry: str | None = Field(default=None, max_length=100)
    size_band: SizeBand | None = None
    employees: int | None = Field(default=None, ge=0, le=INT_MAX)


class MatchedRule(BaseModel):
    id: uuid.UUID
    name: str
    priority: int
    territory_id: uuid.UUID
    territory_name: str
    regions: list[str] = []
    industries: list[str] = []
    size_bands: list[str] = []
    account_ids: list[uuid.UUID] = []


class PassedOver(BaseModel):
    id: uuid.UUID
    name: str
    priority: int
    territory_id: uuid.UUID
    territory_name: str
    failed_on: list[str]


class MatchedTerritory(BaseModel):
    id: uuid.UUID
    name: str
    path: list[PathEntry]


class Check(BaseModel):
    criterion: str
    value: str | None
    accepted: list[str] = Field(description="empty: any value")
    ok: bool


class MatchOut(BaseModel):
    matched: bool
    owner_id: uuid.UUID | None
    territory: MatchedTerritory | None
    rule: MatchedRule | None
    checks: list[Check]
    explanation: str
    passed_over: list[PassedOver] = Field(description="higher-priority rules that did not match (first 20)")
    passed_over_count: int
    ruleset_revision: int
