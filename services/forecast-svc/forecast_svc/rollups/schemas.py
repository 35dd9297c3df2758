import datetime as dt
import uuid

from pydantic import BaseModel, Field

from kam_shared.money import Money


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
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    confirmed_only: bool = Field(description="true: only opportunities their owner confirmed (what forecasts count)")
    other_currencies: list[str]
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
