from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.money import Money

Percent = Decimal


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_percent: Decimal = Field(ge=0, le=10_000, max_digits=9, decimal_places=4)
    to_percent: Decimal | None = Field(default=None, ge=0, le=10_000, max_digits=9, decimal_places=4,
                                       description="open-ended when omitted (last tier only)")
    rate_percent: Decimal = Field(ge=0, le=100, max_digits=8, decimal_places=4)


class AcceleratorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_percent: Decimal = Field(ge=100, le=10_000, max_digits=9, decimal_places=4)
    to_percent: Decimal | None = Field(default=None, ge=100, le=10_000, max_digits=9, decimal_places=4)
    multiplier: Decimal = Field(ge=1, le=100, max_digits=8, decimal_places=4)


class PlanCreate(BaseModel):
    """Commission on revenue, band by band of attainment: tiers set the rate inside [from, to) of
    attainment (base_rate_percent elsewhere); accelerators multiply it at or above 100%; cap_amount
    limits a person's payout per period."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(min_length=3, max_length=3)
    fiscal_year: str = Field(description="FY2026", max_length=6)
    payout_frequency: Literal["month", "quarter", "year"] = "quarter"
    base_rate_percent: Decimal = Field(ge=0, le=100, max_digits=8, decimal_places=4)
    tiers: list[TierIn] = Field(default_factory=list, max_length=50)
    accelerators: list[AcceleratorIn] = Field(default_factory=list, max_length=50)
    cap_amount: Money | None = None
    participant_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)


class PlanPatch(BaseModel):
    """Only drafts change; `retire: true` retires a draft or approved plan. A field left out stays;
    null is refused (422) except for `cap_amount`, where it means no cap."""
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    currency: str = Field(default=None, min_length=3, max_length=3)  # type: ignore[assignment]
    fiscal_year: str = Field(default=None, max_length=6)  # type: ignore[assignment]
    payout_frequency: Literal["month", "quarter", "year"] = None  # type: ignore[assignment]
    base_rate_percent: Decimal = Field(  # type: ignore[assignment]
        default=None, ge=0, le=100, max_digits=8, decimal_places=4)
    tiers: list[TierIn] = Field(default=None, max_length=50)  # type: ignore[assignment]
    accelerators: list[AcceleratorIn] = Field(default=None, max_length=50)  # type: ignore[assignment]
    cap_amount: Money | None = None
    participant_ids: list[uuid.UUID] = Field(default=None, max_length=5000)  # type: ignore[assignment]
    retire: bool = None  # type: ignore[assignment]


class TierOut(BaseModel):
    from_percent: Decimal
    to_percent: Decimal | None
    rate_percent: Decimal


class AcceleratorOut(BaseModel):
    from_percent: Decimal
    to_percent: Decimal | None
    multiplier: Decimal


class CostAnalysisSummary(BaseModel):
    plan_version: int
    period: str
    committed_cost: Money
    expected_cost: Money
    best_case_cost: Money
    analysed_by: uuid.UUID | None
    analysed_at: dt.datetime


class PlanOut(BaseModel):
    id: uuid.UUID
    name: str
    currency: str
    fiscal_year: str
    payout_frequency: str
    base_rate_percent: Decimal
    tiers: list[TierOut]
    accelerators: list[AcceleratorOut]
    cap_amount: Money | None
    participant_ids: list[uuid.UUID] = Field(description="the participants you may see (an admin: all)")
    participant_count: int = Field(description="how many take part, whether you may see them or not")
    status: Literal["draft", "approved", "retired"]
    version: int
    approved_by: uuid.UUID | None
    approved_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    cost_analyses: list[CostAnalysisSummary] | None = Field(
        default=None, description="null unless you may see every participant (the totals add them all up)")


class PlanPage(BaseModel):
    items: list[PlanOut]
    next_cursor: str | None


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: str = Field(description="a payout period of the plan, e.g. FY2026-Q2", max_length=12)


class CalculateIn(PeriodIn):
    user_ids: list[uuid.UUID] | None = Field(default=None, description="default: every participant")


class ParticipantCost(BaseModel):
    user_id: uuid.UUID
    name: str | None
    quota: Money | None
    won_amount: Money
    weighted_pipeline: Money = Field(description="open pipeline closing in the period × stage probability")
    open_pipeline: Money
    committed_cost: Money | None
    expected_cost: Money | None
    best_case_cost: Money | None
    note: str | None = Field(description="why a participant is left out (no approved quota, ...)")


class CostAnalysis(BaseModel):
    plan_id: uuid.UUID
    plan_version: int
    period: str
    currency: str
    participants: list[ParticipantCost]
    committed_cost: Money = Field(description="payout on revenue already won")
    expected_cost: Money = Field(description="payout if the weighted pipeline closes as forecast")
    best_case_cost: Money = Field(description="payout if the whole open pipeline closes")
    analysed_at: dt.datetime


class LineOut(BaseModel):
    from_percent: Decimal
    to_percent: Decimal
    revenue: Money
    rate_percent: Decimal
    multiplier: Decimal
    amount: Money
    source: str


class PayoutHistoryEntry(BaseModel):
    revision: int
    version: int
    action: str
    status: str
    amount: Money
    gross_amount: Money
    attained_amount: Money
    adjustment: Decimal
    paid_amount: Money
    reason: str | None
    actor_id: uuid.UUID | None
    at: dt.datetime


class PayoutOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    user_id: uuid.UUID
    period: str
    currency: str
    quota_amount: Money
    attained_amount: Money
    attainment_percent: Decimal
    gross_amount: Money = Field(description="sum of the statement lines, before the cap")
    adjustment: Decimal
    amount: Money = Field(description="payable: capped gross plus adjustment")
    paid_amount: Money
    status: Literal["calculated", "approved", "paid"]
    revision: int
    lines: list[LineOut] = Field(description="the statement: what each tier / accelerator contributed")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    history: list[PayoutHistoryEntry] | None = None


class PayoutPage(BaseModel):
    items: list[PayoutOut]
    next_cursor: str | None


class Skipped(BaseModel):
    user_id: uuid.UUID
    reason: str


class CalculationOut(BaseModel):
    plan_id: uuid.UUID
    period: str
    payouts: list[PayoutOut]
    skipped: list[Skipped]


class AdjustIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    adjustment: Decimal = Field(max_digits=16, decimal_places=2,
                                description="added to the calculated (capped) amount; negative reduces it")
    reason: str = Field(min_length=1, max_length=2000)
