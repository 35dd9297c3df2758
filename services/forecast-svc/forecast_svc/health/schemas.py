"""API models of funnel health and attainment."""
import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from kam_shared.http import Day
from kam_shared.money import Money, money_str

# A difference of money (a gap can be negative): two decimals, leaves as a string like Money.
SignedMoney = Annotated[Decimal, Field(max_digits=16, decimal_places=2),
                        PlainSerializer(money_str, return_type=str, when_used="json")]
# A typical number of opportunities: derived norms are averages, so two decimals, as a string.
NormCount = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2),
                      PlainSerializer(lambda d: str(Decimal(d).quantize(Decimal("0.01"))), return_type=str,
                                      when_used="json")]
Percent = Annotated[Decimal | None, Field(description="percent, one decimal, as a string: \"87.5\"")]
Rating = Literal["excellent", "good", "warning"]


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: Day | None = Field(default=None, description="UTC day to (re-)take; default today. It records the "
                                                          "pipeline as it is now.")


class SnapshotOut(BaseModel):
    day: dt.date
    rows: int = Field(description="(owner, close month, currency, stage) rows of open pipeline recorded")
    replaced_rows: int = Field(description="rows of an earlier snapshot of the same day that were replaced")
    taken_at: dt.datetime
    taken_by: uuid.UUID | None


class SnapshotDayOut(BaseModel):
    day: dt.date
    rows: int
    taken_at: dt.datetime
    taken_by: uuid.UUID | None = Field(description="null: the daily background task")


class SnapshotDayPage(BaseModel):
    items: list[SnapshotDayOut]
    next_cursor: str | None


class StageNormIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: int = Field(ge=1, le=7)
    count: NormCount
    amount: Money


class ManualNormIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    currency: str | None = Field(default=None, min_length=3, max_length=3,
                                 description="default: the reporting currency")
    stages: list[StageNormIn] = Field(description="open stages 1..7, each once; stages left out have no norm")


class DeriveNormIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_periods: list[str] | None = Field(
        default=None, description="past periods as long as the target; default: the previous 4 quarters, "
                                  "3 months or 1 year of the same kind")
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class StageNormOut(BaseModel):
    stage: int
    count: NormCount
    amount: Money


class NormBasisOut(BaseModel):
    period: str
    snapshot_days: int = Field(description="snapshot days inside the period; 0: it had none and was left out")


class NormOut(BaseModel):
    norm_id: uuid.UUID
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    version: int
    source: Literal["manual", "derived"]
    from_periods: list[NormBasisOut] | None
    set_by: uuid.UUID
    set_at: dt.datetime
    stages: list[StageNormOut]


class HealthFigures(BaseModel):
    count: int
    amount: Money
    norm_count: NormCount | None
    norm_amount: Money | None
    ratio_by_count: Percent
    ratio_by_amount: Percent
    rating_by_count: Rating | None
    rating_by_amount: Rating | None


class _Stage(BaseModel):
    stage: int


class StageHealthOut(HealthFigures, _Stage):  # fields: stage first, then the figures
    pass


class FunnelHealthOut(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    other_currencies: list[str] = Field(description="currencies of open pipeline not counted here")
    as_of: dt.datetime | None
    norm_source: Literal["manual", "derived"] | None = Field(description="null: no norm for this node and period")
    norm_version: int | None
    norm_set_at: dt.datetime | None
    stages: list[StageHealthOut]
    overall: HealthFigures = Field(description="the stages that have a norm, summed")
    overall_rating: Rating | None = Field(description="the worse of the overall ratings by count and by amount")


class QuotaOut(BaseModel):
    id: uuid.UUID
    owner_kind: Literal["user", "org_unit"]
    owner_id: uuid.UUID
    period: str
    status: Literal["draft", "submitted", "approved"]
    revision: int
    amount: Money = Field(description="the current revision's target")
    approved_amount: Money | None = Field(description="the last approved revision's target")


class OtherCurrencyQuota(BaseModel):
    currency: str
    quota: Money
    quota_status: str


class AttainmentFigures(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    as_of: dt.datetime | None
    quota: Money | None = Field(description="the approved target (the current one while never approved); "
                                            "null: no quota in this currency for exactly this period")
    quota_status: Literal["draft", "submitted", "approved"] | None
    quotas: list[QuotaOut] = Field(description="the team-svc quotas the target sums")
    won: Money
    forecast_commit: Money = Field(description="confirmed opportunities: closed + commit")
    forecast_best_case: Money = Field(description="confirmed opportunities: closed + commit + best_case")
    gap: SignedMoney | None = Field(description="quota − won; negative once the quota is exceeded")
    attainment_pct: Percent
    forecast_attainment_pct: Percent
    other_currencies: list[OtherCurrencyQuota] = Field(description="quotas in other currencies: not converted, "
                                                                   "not compared")
    other_opportunity_currencies: list[str] = Field(description="currencies of opportunities not counted here")


class _Name(BaseModel):
    name: str


class ChildAttainment(AttainmentFigures, _Name):  # fields: name first, then the figures
    pass


class AttainmentOut(AttainmentFigures):
    children: list[ChildAttainment] = Field(description="the same figures for each direct report")
