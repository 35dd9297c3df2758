"""API models of territory plans and rebalancing."""

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.money import Money

Text = Field(min_length=1, max_length=2000)


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=2000)
    measure: str | None = Field(default=None, max_length=500)
    target: str | None = Field(default=None, max_length=500)


class Coverage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID
    role: str = Field(default="account_manager", min_length=1, max_length=50)
    capacity_percent: int = Field(default=100, ge=0, le=100, description="share of their time on the territory")


class PlanContent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objectives: list[Objective] = Field(default_factory=list, max_length=100)
    target_account_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)
    coverage: list[Coverage] = Field(default_factory=list, max_length=200)
    capacity_accounts: int | None = Field(default=None, ge=0, le=1_000_000,
                                          description="how many accounts the territory's people can cover")


class TerritoryPlanCreate(PlanContent):
    territory_id: uuid.UUID
    period: str = Field(max_length=12, description="a fiscal period: FY2026, FY2026-Q3 or 2026-11")


class TerritoryPlanPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    objectives: list[Objective] | None = Field(default=None, max_length=100)
    target_account_ids: list[uuid.UUID] | None = Field(default=None, max_length=5000)
    coverage: list[Coverage] | None = Field(default=None, max_length=200)
    capacity_accounts: int | None = Field(default=None, ge=0, le=1_000_000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Text


class Covered(BaseModel):
    accounts: int = Field(description="accounts in the territory now (rules, then rebalancing)")
    target_accounts_in_territory: int = Field(description="of target_account_ids, those in the territory now")
    capacity_accounts: int | None
    utilisation_percent: int | None = Field(description="accounts / capacity_accounts × 100")
    people: int
    full_time_equivalent: float = Field(description="sum of coverage capacity_percent / 100")


class TerritoryPlanOut(BaseModel):
    id: uuid.UUID
    territory_id: uuid.UUID
    territory_name: str
    territory_owner_id: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    status: str = Field(description="draft → submitted → approved | rejected (a rejected plan can be changed "
                                    "and submitted again)")
    objectives: list[Objective]
    target_account_ids: list[uuid.UUID]
    coverage: list[Coverage]
    capacity_accounts: int | None
    quota_id: uuid.UUID | None = Field(description="the territory's quota for the period (its org unit's, else "
                                                   "its manager's)")
    quota_amount: Money | None
    quota_status: str | None
    covered: Covered
    decision_reason: str | None
    decided_by: uuid.UUID | None
    created_by: uuid.UUID | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TerritoryPlanPage(BaseModel):
    items: list[TerritoryPlanOut]
    next_cursor: str | None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID
    to_territory_id: uuid.UUID


class RebalanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    moves: list[MoveIn] = Field(min_length=1, max_length=5000,
                                description="a proposal's moves as they are, or edited")
    reason: str | None = Field(default=None, max_length=2000)
    period: str | None = Field(default=None, max_length=12)


class MoveOut(BaseModel):
    account_id: uuid.UUID
    from_territory_id: uuid.UUID | None
    to_territory_id: uuid.UUID
    to_owner_id: uuid.UUID


class TerritoryLoad(BaseModel):
    territory_id: uuid.UUID
    name: str
    accounts: int
    target: int = Field(description="the plan's capacity_accounts for the period, else an even share")
    capacity_from_plan: bool
    after: int = Field(description="accounts after the proposed moves")


class Proposal(BaseModel):
    period: str | None
    territories: list[TerritoryLoad]
    moves: list[MoveOut]


class RebalanceOut(BaseModel):
    id: uuid.UUID
    moves: list[MoveOut]
    reason: str | None
    period: str | None
    created_by: uuid.UUID | None
    created_at: dt.datetime
