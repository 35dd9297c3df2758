"""API models of the predicted outcome and its backtest."""
import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from kam_shared.money import Money

Percent = Field(description="percent, one decimal, as a string: \"87.5\"")


class StagePredictionOut(BaseModel):
    stage: int
    count: int = Field(description="open opportunities in the stage closing in the period")
    open_amount: Money
    conversion_pct: Decimal = Field(description="stage-to-win conversion used, percent (one decimal)")
    conversion_source: Literal["node", "org", "stage_model"] = Field(
        description="node: the closed history of source_node's subtree; org: the whole organisation's (no node "
                    "up the chain had min_sample); stage_model: no closed history, the stage model's probability")
    source_node: uuid.UUID | None = Field(description="the user whose subtree's history gave the conversion")
    sample_size: int = Field(description="closed opportunities in that history that reached the stage")
    won_in_sample: int
    median_days_to_close: float | None = Field(
        description="median days from entering the stage to closing won, in that history")
    timing_factor: Decimal = Field(description="amount-weighted share expected to close before the period ends, 0..1")
    expected_amount: Money = Field(description="Σ open amount × conversion × timing factor")


class PredictionOut(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    currency: str
    as_of: dt.datetime
    other_currencies: list[str] = Field(description="currencies with business in the period, not summed in")
    won_amount: Money = Field(description="already won, closing in the period")
    open_count: int
    open_amount: Money
    expected_amount: Money = Field(description="won so far + the stages' expected amounts")
    low_amount: Money = Field(description="lower end of the 90% range")
    high_amount: Money = Field(description="upper end of the 90% range")
    interval: str
    min_sample: int = Field(description="closed opportunities a node's history needs to be used for a stage")
    method: str
    stages: list[StagePredictionOut]


class PeriodBacktestOut(BaseModel):
    period: str
    period_start: dt.date
    period_end: dt.date
    actual_won: Money
    predicted_at_start: Money = Field(description="the method at 00:00 UTC of the period's first day")
    predicted_at_midpoint: Money = Field(description="the method at 00:00 UTC of the period's middle day")
    submitted_forecast: Money | None = Field(description="the node's own last submitted (or published) forecast")
    ape_at_start_pct: Decimal | None = Percent
    ape_at_midpoint_pct: Decimal | None = Percent
    ape_submitted_pct: Decimal | None = Percent


class PredictionAccuracyOut(BaseModel):
    node: uuid.UUID
    currency: str
    kind: Literal["quarter", "month"]
    method: str
    formula: str
    periods: list[PeriodBacktestOut] = Field(description="the past periods, oldest first")
    mape_at_start_pct: Decimal | None = Percent
    mape_at_midpoint_pct: Decimal | None = Percent
    mape_submitted_pct: Decimal | None = Percent
