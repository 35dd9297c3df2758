import datetime as dt
import uuid

from pydantic import BaseModel, Field

from kam_shared.money import Money

from ..rollups.schemas import CategoryFiguresOut


class HistoryPointOut(BaseModel):
    day: dt.date = Field(description="the day (interval=week: the week's last day, or today) the point closes")
    at: dt.datetime = Field(description="the instant: the next midnight (UTC), or now for today")
    open_count: int
    open_amount: Money
    weighted_amount: Money
    won_count: int
    won_amount: Money
    lost_count: int
    lost_amount: Money
    categories: list[CategoryFiguresOut]


class SubmittedFiguresOut(BaseModel):
    pipeline: Money
    best_case: Money
    commit: Money
    closed: Money
    omitted: Money


class SubmittedVersionOut(BaseModel):
    record_id: uuid.UUID
    version: int
    kind: str = Field(description="submission | publication")
    at: dt.datetime
    by: uuid.UUID
    submitted_to: uuid.UUID | None
    note: str | None
    figures: SubmittedFiguresOut
    forecast_amount: Money
    upside_amount: Money


class ForecastHistoryOut(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    interval: str
    history_starts_at: dt.datetime | None
    points: list[HistoryPointOut] = Field(description="oldest first; the last one is now")
    submissions: list[SubmittedVersionOut] = Field(description="the node's submitted (and published) forecast "
                                                               "versions for the period, oldest first")
