"""Events of team-svc's territory plans and rebalancing on `kam.team.events` (DOMAIN.md §4: plans per
territory; 重新定位销售力量).

A territory plan is its own subject (id, version). A rebalance is one recorded change, its own
subject too: `kam.team.territories_rebalanced.v1` lists every account moved from one territory to
another, with the receiving territory's account manager, so account-svc reassigns each account
without a call back.
"""
from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field

from ..money import Money
from .base import TOPICS, EventSpec, FieldChange, Payload, register


class TerritoryPlanObjective(Payload):
    description: str
    measure: str | None = None
    target: str | None = None


class TerritoryPlanCoverage(Payload):
    """Who covers the territory, in what role, with what share of their time (capacity)."""
    user_id: uuid.UUID
    role: str = Field(default="account_manager", description="account_manager | presales | specialist | ...")
    capacity_percent: int = Field(default=100, ge=0, le=100)


class TerritoryPlanState(Payload):
    id: uuid.UUID
    territory_id: uuid.UUID
    period: str = Field(description="a fiscal period of team-svc's calendar: FY2026, FY2026-Q3 or 2026-11")
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    status: str = Field(description="draft | submitted | approved | rejected")
    objectives: list[TerritoryPlanObjective] = Field(default_factory=list)
    target_account_ids: list[uuid.UUID] = Field(default_factory=list)
    coverage: list[TerritoryPlanCoverage] = Field(default_factory=list)
    capacity_accounts: int | None = Field(default=None, description="how many accounts the territory can cover")
    quota_id: uuid.UUID | None = Field(default=None, description="the territory's quota for the period")
    quota_amount: Money | None = None
    decision_reason: str | None = None
    version: int


class TerritoryPlanCreated(Payload):
    plan: TerritoryPlanState
    changed_by: uuid.UUID | None = None


class TerritoryPlanUpdated(Payload):
    """A draft (or rejected) plan changed, or it moved through its approval: `changes` says what."""
    plan: TerritoryPlanState
    changes: dict[str, FieldChange] = Field(default_factory=dict)
    changed_by: uuid.UUID | None = None


class TerritoryMove(Payload):
    account_id: uuid.UUID
    from_territory_id: uuid.UUID | None = Field(description="null: the account was in no territory")
    to_territory_id: uuid.UUID
    to_owner_id: uuid.UUID = Field(description="the receiving territory's account manager: the account's new owner")


class TerritoriesRebalanced(Payload):
    id: uuid.UUID
    moves: list[TerritoryMove]
    reason: str | None = None
    period: str | None = None
    changed_by: uuid.UUID | None = None
    version: int = 1


_T = TOPICS["team"]
register(
    EventSpec("kam.team.territory_plan_created.v1", _T, TerritoryPlanCreated,
              "A territory plan was drafted for a fiscal period."),
    EventSpec("kam.team.territory_plan_updated.v1", _T, TerritoryPlanUpdated,
              "A territory plan changed: its content, or draft → submitted → approved / rejected."),
    EventSpec("kam.team.territories_rebalanced.v1", _T, TerritoriesRebalanced,
              "Accounts moved between territories in one recorded change; each move names the account's new "
              "owner (account-svc reassigns it)."),
)
