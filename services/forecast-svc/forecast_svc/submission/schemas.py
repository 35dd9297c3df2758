"""API models of forecast submission. Amounts are decimal strings in the record's currency."""
import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

from kam_shared.http import Day
from kam_shared.money import Money, SignedMoney

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
PrincipleCategory = Literal["pipeline", "best_case", "commit", "closed"]
Percent = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]


class Strict(BaseModel):
    """Request bodies: an unknown field is a 422 naming it (a typo never silently does nothing)."""
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ principles
class PrinciplesIn(Strict):
    counted_categories: list[str] = Field(default=["commit", "closed"],
                                          description="categories summed into the forecast amount")
    upside_categories: list[str] = Field(default=["best_case"], description="categories summed into the upside")
    due_date: Day | None = Field(default=None, description="advisory: later submissions are marked late")
    note: Text | None = None


class PrinciplesOut(BaseModel):
    period: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    counted_categories: list[str]
    upside_categories: list[str]
    due_date: dt.date | None
    note: str | None
    version: int = Field(description="0: the defaults, nothing set for this period yet")
    updated_by: uuid.UUID | None
    updated_at: dt.datetime | None


# ------------------------------------------------------------------ records
class ForecastCreate(Strict):
    period: str = Field(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026")
    currency: str | None = Field(default=None, min_length=3, max_length=3,
                                 description="default: the reporting currency (CNY)")
    owner_id: uuid.UUID | None = Field(default=None, description="optional; must be you: a record is its owner's")


class Figures(BaseModel):
    pipeline: Money
    best_case: Money
    commit: Money
    closed: Money = Field(description="won, closing in the period")
    omitted: Money = Field(description="lost or left out by the owner; never counted")


class LineOut(BaseModel):
    opportunity_id: uuid.UUID
    account_id: uuid.UUID
    amount: Money
    category: str
    stage: int
    status: str
    close_date: dt.date


class ChildOut(BaseModel):
    record_id: uuid.UUID
    owner_id: uuid.UUID
    version: int = Field(description="the submitted version taken in")
    submitted_at: dt.datetime
    figures: Figures
    forecast_amount: Money
    upside_amount: Money


class ChannelOut(BaseModel):
    channel: str
    amount: Money
    note: str | None
    recorded_by: uuid.UUID
    recorded_at: dt.datetime


class SubmittedOut(BaseModel):
    """What the superior sees: the last submitted version."""
    version: int
    submitted_to: uuid.UUID | None
    submitted_at: dt.datetime
    figures: Figures
    forecast_amount: Money
    upside_amount: Money


class ForecastSummary(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    currency: str
    status: Literal["draft", "submitted", "published"] = Field(
        description="draft: the current figures are not submitted (new, adjusted or refreshed since); "
                    "submitted: the superior has the current figures; published: the business unit's final")
    version: int = Field(description="number of the latest version; the ETag")
    figures: Figures = Field(description="current: pre-fill plus the owner's adjustments")
    forecast_amount: Money = Field(description="sum of the counted categories")
    upside_amount: Money = Field(description="sum of the upside categories")
    last_submitted: SubmittedOut | None
    published_version: int | None
    published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ForecastOut(ForecastSummary):
    counted_categories: list[str]
    upside_categories: list[str]
    own_figures: Figures = Field(description="the owner's own confirmed opportunities")
    adjustments: dict[str, SignedMoney] = Field(description="the owner's adjustments per category, inside figures")
    lines: list[LineOut] = Field(description="the owner's own confirmed opportunities in the pre-fill")
    children: list[ChildOut] = Field(description="direct reports' submitted versions in the pre-fill")
    missing: list[uuid.UUID] = Field(description="direct reports who had not submitted at the pre-fill")
    live_rollup: Figures | None = Field(description="the live confirmed roll-up of the owner's subtree at the "
                                                    "pre-fill: compare it with what was submitted")
    channel_forecasts: list[ChannelOut] = Field(description="beside the forecast, never added into it")
    locked: bool = Field(description="published, or below a published record for this period and currency")
    locked_by_record_id: uuid.UUID | None
    newer_child_submissions: list[uuid.UUID] = Field(
        description="direct reports who submitted (again) after this record's pre-fill: refresh to take them in")


class ForecastPage(BaseModel):
    items: list[ForecastSummary]
    next_cursor: str | None


class AdjustmentIn(Strict):
    category: Literal["pipeline", "best_case", "commit"] = "commit"
    amount_delta: SignedMoney | None = Field(default=None, description="add this (negative lowers it)")
    amount: Money | None = Field(default=None, description="or set the category to this amount")
    reason: Reason = Field(description="why (required)")


class SubmitIn(Strict):
    note: Text | None = None


class ChannelIn(Strict):
    channel: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="e.g. a distributor or partner channel; recording it again replaces its figure")
    amount: Money
    note: Text | None = None


class PublishIn(Strict):
    note: Text | None = None


# ------------------------------------------------------------------ versions
class AdjustmentOut(BaseModel):
    category: str
    amount_before: Money
    amount_after: Money
    delta: SignedMoney


class VersionOut(BaseModel):
    record_id: uuid.UUID
    number: int
    kind: Literal["prefill", "adjustment", "refresh", "submission", "channel", "publication"]
    by: uuid.UUID = Field(description="who")
    at: dt.datetime = Field(description="when")
    reason: str | None = Field(description="why (adjustments)")
    note: str | None
    figures: Figures
    forecast_amount: Money
    upside_amount: Money
    counted_categories: list[str]
    upside_categories: list[str]
    adjustment: AdjustmentOut | None = Field(description="adjustment versions: what changed")
    submitted_to: uuid.UUID | None = Field(description="submission versions: the superior")
    late: bool | None = Field(description="submission versions: after the principles' due date")
    channel: ChannelOut | None = Field(description="channel versions: the channel forecast recorded")
    trimmed_adjustments: dict[str, SignedMoney] | None = Field(
        description="refresh versions: adjustments cut so no category went below zero")
    adjustments: dict[str, SignedMoney]
    lines: list[LineOut]
    children: list[ChildOut]
    missing: list[uuid.UUID]
    live_rollup: Figures | None
    channel_forecasts: list[ChannelOut]


class VersionList(BaseModel):
    items: list[VersionOut]


# ------------------------------------------------------------------ accuracy
class AccuracyRow(BaseModel):
    owner_id: uuid.UUID
    name: str | None
    role: str | None
    depth: int = Field(description="0: the node, 1: its direct reports, ...")
    record_id: uuid.UUID
    version: int
    kind: Literal["submission", "publication"]
    forecast_amount: Money = Field(description="of the last submitted (or published) version")
    actual_won: Money = Field(description="closed-won in the period over the person's subtree (own for a rep)")
    difference: SignedMoney = Field(description="actual_won − forecast_amount")
    accuracy_pct: Percent = Field(description="100 × (1 − |forecast − actual| / max(forecast, actual)); "
                                              "100 when both are zero")


class AccuracyOut(BaseModel):
    node: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    final: bool = Field(description="true once the period has ended (UTC); before that the figures are provisional")
    formula: str
    people: list[AccuracyRow]
