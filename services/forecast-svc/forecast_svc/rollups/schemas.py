import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from kam_shared.money import Money

from ..rates.schemas import RateUsedOut


class StageFiguresOut(BaseModel):
    stage: int
    count: int
    amount: Money
    weighted_amount: Money


class CategoryFiguresOut(BaseModel):
    category: str = Field(description="pipeline | best_case | commit | closed | omitted")
    count: int
    amount: Money


class RollupOut(BaseModel):
    node: uuid.UUID
    node_kind: Literal["user", "org_unit", "territory"] = Field(
        description="user: them and everyone below them; org_unit: every user of the unit or a unit below it; "
                    "territory: the accounts it or a territory below it covers")
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    confirmed_only: bool = Field(description="true: only opportunities their owner confirmed (what forecasts count)")
    other_currencies: list[str] = Field(description="currencies with figures in the period but no rate into "
                                                    "`currency` in force: listed, never summed")
    rates_used: list[RateUsedOut] = Field(default_factory=list,
                                          description="the rates every other currency was converted at")
    stages: list[StageFiguresOut]
    open_count: int
    open_amount: Money
    weighted_amount: Money
    won_count: int
    won_amount: Money
    lost_count: int
    lost_amount: Money
    categories: list[CategoryFiguresOut] = Field(
        description="forecast categories: open ones from the stage mapping or the owner's override; won is "
                    "closed, lost is omitted")
    as_of: dt.datetime | None
