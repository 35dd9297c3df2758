import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from kam_shared.events.opportunity import OpportunityState
from kam_shared.money import Money

from ..opportunities.schemas import OpportunityOut


class OpportunityPage(BaseModel):
    items: list[OpportunityOut]
    next_cursor: str | None


class SnapshotPage(BaseModel):
    """Opportunities in id order with their versions, as events carry them (for read-model rebuilds)."""
    items: list[OpportunityState]
    next_cursor: str | None
    stage_model_version: int
    as_of: dt.datetime


class StageSummary(BaseModel):
    stage: int
    name: str
    status: Literal["open", "won", "lost"]
    probability: int | None = Field(description="the stage model's probability (open stages)")
    count: int
    amounts: list["CurrencyAmount"]


class CurrencyAmount(BaseModel):
    currency: str
    amount: Money
    weighted_amount: Money


class PipelineSummary(BaseModel):
    stages: list[StageSummary] = Field(description="open stages 1..7, then won and lost")
    open_count: int
    open_amounts: list[CurrencyAmount]
    won_count: int
    lost_count: int
    high_value_count: int
    confirmed_count: int
    stage_model_version: int
