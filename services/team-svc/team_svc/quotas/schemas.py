from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.money import Money

OwnerKind = Literal["user", "org_unit"]


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fiscal_year_start_month: int = Field(ge=1, le=12)


class CalendarOut(BaseModel):
    fiscal_year_start_month: int
    version: int


class PeriodOut(BaseModel):
    label: str
    kind: str
    start: dt.date
    end: dt.date = Field(description="exclusive")
    fiscal_year: str


class QuotaCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_kind: OwnerKind
    owner_id: uuid.UUID
    period: str = Field(description="FY2026, FY2026-Q3 or 2026-11 (fiscal calendar)", max_length=12)
    currency: str = Field(min_length=3, max_length=3)
    amount: Money


class QuotaPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money
    over_allocation_reason: str | None = Field(default=None, max_length=2000,
                                               description="needed when siblings would exceed the parent")


class ChildIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_kind: OwnerKind
    owner_id: uuid.UUID
    weight: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6)
    amount: Money | None = None


class AllocateIn(BaseModel):
    """Split the quota to its children. Without `children`: a person's active direct reports, or a
    unit's active sub-units (its members when it has none)."""
    model_config = ConfigDict(extra="forbid")
    method: Literal["even", "weights", "last_year_won", "amounts"]
    children: list[ChildIn] | None = Field(default=None, max_length=1000)
    uplift_percent: Decimal = Field(default=Decimal("0"), ge=0, le=1000, max_digits=8, decimal_places=4,
                                    description="over-assign: split parent × (1 + uplift%) (needs approval)")
    over_allocation_reason: str | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class ReviseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money
    reason: str = Field(min_length=1, max_length=2000)


class QuotaChildOut(BaseModel):
    id: uuid.UUID
    owner_kind: str
    owner_id: uuid.UUID
    status: str
    version: int
    amount: Money


class QuotaOut(BaseModel):
    id: uuid.UUID
    owner_kind: str
    owner_id: uuid.UUID
    responsible_user_id: uuid.UUID | None
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    amount: Money
    approved_amount: Money | None
    status: Literal["draft", "submitted", "approved"]
    revision: int
    parent_quota_id: uuid.UUID | None
    allocation_method: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    children: list[QuotaChildOut] | None = None
    allocated_amount: Money | None = None
    gap: Decimal | None = Field(default=None, description="amount − sum(children); negative = over-allocated")


class QuotaPage(BaseModel):
    items: list[QuotaOut]
    next_cursor: str | None


class QuotaHistoryEntry(BaseModel):
    version: int
    revision: int
    action: str
    status: str
    amount: Money
    approved_amount: Money | None
    reason: str | None
    actor_id: uuid.UUID | None
    at: dt.datetime


class QuotaAttainment(BaseModel):
    quota_id: uuid.UUID
    period: str
    currency: str
    target: Money | None = Field(description="the approved target (None before the first approval)")
    won_amount: Money
    attainment_percent: Decimal | None
    other_currencies: dict[str, Money]


class QuotaSummary(BaseModel):
    id: uuid.UUID
    status: str
    currency: str
    amount: Money
    approved_amount: Money | None


class ReportAttainment(BaseModel):
    user_id: uuid.UUID
    name: str
    rollup_won_amount: Money
    quota_amount: Money | None
    attainment_percent: Decimal | None


class PersonAttainment(BaseModel):
    user_id: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    own_won_amount: Money = Field(description="won by the person themselves")
    rollup_won_amount: Money = Field(description="won by the person and everyone below them")
    quota: QuotaSummary | None
    attainment_percent: Decimal | None = Field(description="rollup_won_amount / approved quota")
    other_currencies: dict[str, Money]
    direct_reports: list[ReportAttainment] = []
