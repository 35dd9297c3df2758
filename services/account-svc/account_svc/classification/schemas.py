"""API models of classification: the classify request, the tier score, the Pareto view."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from kam_shared.money import Money

from ..accounts.schemas import AccountType, Tier
from ..common.schemas import Input


class Classify(Input):
    type: AccountType | None = None
    tier: Tier | None = None
    apply_recommendation: bool = Field(default=False, description="set the tier the tier score recommends")
    currency: str = Field(default="CNY", min_length=3, max_length=3,
                          description="reporting currency of the won revenue the recommendation uses")
    reason: str | None = Field(default=None, max_length=2000)

class CriterionOut(BaseModel):
    name: str
    points: int
    max_points: int
    value: str | None
    explanation: str


class TierRecommendationOut(BaseModel):
    account_id: uuid.UUID
    score: int
    max_score: int
    recommended_tier: str
    current_tier: str | None
    criteria: list[CriterionOut]
    caps: list[str]
    currency: str
    revenue_window: dict[str, dt.date]


class ParetoItem(BaseModel):
    account_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    tier: str | None
    rank: int
    won_amount: Money
    share_pct: Decimal
    cumulative_pct: Decimal
    pareto_class: Literal["A", "B", "C"]
    in_top: bool


class ParetoOut(BaseModel):
    currency: str
    threshold_pct: Decimal
    since: dt.date | None
    until: dt.date | None
    total_won: Money
    accounts_with_revenue: int
    top_accounts: int
    top_share_of_accounts_pct: Decimal = Field(description="the top as a share of accounts with won revenue")
    items: list[ParetoItem]
    other_currencies: dict[str, Money] = Field(description="won revenue in other currencies, not summed in")
