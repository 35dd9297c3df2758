import datetime as dt
import uuid

from pydantic import BaseModel

from kam_shared.money import Money


class StageFiguresOut(BaseModel):
    stage: int
    count: int
    amount: Money
    weighted_amount: Money


class RollupOut(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    other_currencies: list[str]
    stages: list[StageFiguresOut]
    open_count: int
    open_amount: Money
    weighted_amount: Money
    won_count: int
    won_amount: Money
    lost_count: int
    lost_amount: Money
    as_of: dt.datetime | None
