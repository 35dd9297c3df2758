"""Events of forecast-svc on `kam.forecast.events`.

* `category_mapping_changed`: the forecast principles' stage → category mapping changed; keyed
  `category-mapping`, `sequence` is the mapping's version.
* Forecast submission (逐层上报): `record_created`, `adjusted`, `refreshed`, `submitted`,
  `channel_forecast_recorded`, `published`; keyed by the forecast record's id, `sequence` is the
  record's version (= the number of the immutable version the event reports).
* Funnel health: `funnel_norm_set`; keyed by the norm's id, `sequence` is the norm's version.
"""
from __future__ import annotations

import uuid

from pydantic import Field

from .base import TOPICS, EventSpec, FieldChange, Payload, register

_T = TOPICS["forecast"]


class StageCategory(Payload):
    stage: int = Field(ge=1, le=7)
    category: str = Field(description="pipeline | best_case | commit | omitted")


class CategoryMappingChanged(Payload):
    version: int
    mapping: list[StageCategory] = Field(description="every open stage 1..7 with its forecast category")
    changes: dict[str, FieldChange] = Field(default_factory=dict, description="{stage: {from, to}}")
    changed_by: uuid.UUID


register(
    EventSpec("kam.forecast.category_mapping_changed.v1", _T, CategoryMappingChanged,
              "The stage → forecast-category mapping (forecast principles) changed; roll-ups use it at once."),
)


# ------------------------------------------------------------------ forecast submission (逐层上报)
import datetime as _dt  # noqa: E402
from typing import Literal  # noqa: E402

from ..money import Money, SignedMoney  # noqa: E402

ForecastStatus = Literal["draft", "submitted", "published"]


class ForecastFigures(Payload):
    """Amounts per forecast category (预测类别) in the record's currency."""
    pipeline: Money
    best_case: Money
    commit: Money
    closed: Money = Field(description="won opportunities closing in the period")
    omitted: Money = Field(description="lost, or left out by their owner; never counted")


class ForecastRecordState(Payload):
    """A forecast record after the change: one per owner, period and currency."""
    id: uuid.UUID
    owner_id: uuid.UUID
    period: str = Field(description="2026-Q4, 2026-11, 2026, FY2026-Q1, FY2026")
    period_start: _dt.date
    period_end: _dt.date = Field(description="exclusive")
    currency: str
    status: ForecastStatus
    version: int = Field(description="number of the record's latest immutable version")
    figures: ForecastFigures = Field(description="pre-fill plus the owner's adjustments")
    forecast_amount: Money = Field(description="sum of the counted categories (forecast principles)")
    upside_amount: Money = Field(description="sum of the upside categories")
    counted_categories: list[str]
    upside_categories: list[str]
    adjustments: dict[str, SignedMoney] = Field(
        default_factory=dict, description="the owner's adjustments per category, already inside `figures`")
    last_submitted_version: int | None = None
    submitted_to: uuid.UUID | None = None


class ForecastChild(Payload):
    """A direct report's submitted record as the superior's record took it in."""
    record_id: uuid.UUID
    owner_id: uuid.UUID
    version: int = Field(description="the submitted version taken in")
    submitted_at: _dt.datetime
    figures: ForecastFigures
    forecast_amount: Money
    upside_amount: Money


class ForecastChannel(Payload):
    """A channel's forecast (渠道预测), shown beside the record's forecast, never added into it."""
    channel: str
    amount: Money
    note: str | None = None
    recorded_by: uuid.UUID
    recorded_at: _dt.datetime


class ForecastRecordCreated(Payload):
    record: ForecastRecordState
    created_by: uuid.UUID
    opportunity_count: int = Field(description="own confirmed opportunities in the pre-fill")
    children: list[ForecastChild] = Field(default_factory=list)
    missing: list[uuid.UUID] = Field(default_factory=list, description="direct reports who had not submitted")


class ForecastAdjusted(Payload):
    """The owner revised (修订) one category of their own record, with a reason."""
    record: ForecastRecordState
    category: str
    amount_before: Money
    amount_after: Money
    delta: SignedMoney
    reason: str
    adjusted_by: uuid.UUID


class ForecastRefreshed(Payload):
    """The owner re-pulled the pre-fill (own opportunities, direct reports' latest submissions);
    adjustments were kept (trimmed where a category would have gone below zero)."""
    record: ForecastRecordState
    refreshed_by: uuid.UUID
    figures_before: ForecastFigures
    trimmed_adjustments: dict[str, SignedMoney] = Field(default_factory=dict)
    children: list[ForecastChild] = Field(default_factory=list)
    missing: list[uuid.UUID] = Field(default_factory=list)


class ForecastSubmitted(Payload):
    """The owner submitted their record to their superior (逐层上报)."""
    record: ForecastRecordState
    submitted_by: uuid.UUID
    submitted_to: uuid.UUID
    late: bool = Field(default=False, description="after the principles' due date")
    note: str | None = None
    children: list[ForecastChild] = Field(default_factory=list)


class ForecastChannelRecorded(Payload):
    record: ForecastRecordState
    channel: ForecastChannel


class ForecastPublished(Payload):
    """The business unit's final forecast for production planning (生产计划). Publishing locks the
    period (and currency) for every record in the publisher's subtree."""
    record: ForecastRecordState
    published_by: uuid.UUID
    published_at: _dt.datetime
    note: str | None = None
    channel_forecasts: list[ForecastChannel] = Field(default_factory=list)
    children: list[ForecastChild] = Field(default_factory=list)
    missing: list[uuid.UUID] = Field(default_factory=list, description="direct reports with no submission in it")


register(
    EventSpec("kam.forecast.record_created.v1", _T, ForecastRecordCreated,
              "Someone created their forecast record for a period, pre-filled (version 1)."),
    EventSpec("kam.forecast.adjusted.v1", _T, ForecastAdjusted,
              "The owner adjusted one forecast category of their record, with a reason."),
    EventSpec("kam.forecast.refreshed.v1", _T, ForecastRefreshed,
              "The owner re-pulled the pre-fill of their record, keeping their adjustments."),
    EventSpec("kam.forecast.submitted.v1", _T, ForecastSubmitted,
              "A forecast record was submitted to the owner's superior (full figures)."),
    EventSpec("kam.forecast.channel_forecast_recorded.v1", _T, ForecastChannelRecorded,
              "The business unit recorded a channel forecast beside its record."),
    EventSpec("kam.forecast.published.v1", _T, ForecastPublished,
              "The business unit published the final forecast (figures, channel forecasts, child submissions)."),
)


# ------------------------------------------------------------- funnel health (销售漏斗健康度)
# Appended by the funnel-health / attainment slice (issue 6, parts 4-5); other slices keep their own block.
# Imports sit here, not at the top, so the slices' blocks never touch the same lines.

import datetime as dt  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Literal  # noqa: E402


class StageNorm(Payload):
    stage: int = Field(ge=1, le=7)
    count: Decimal = Field(ge=0, description="typical number of open opportunities in the stage, two decimals "
                                              "(a derived norm is an average)")
    amount: Money = Field(description="typical open amount in the stage")


class NormBasis(Payload):
    period: str = Field(description="a past period the norm was derived from")
    snapshot_days: int = Field(description="daily stage snapshots that fell inside it (0: not used)")


class FunnelNormSet(Payload):
    """A new version of the funnel norm of one node (a user and their subtree), period and currency."""
    norm_id: uuid.UUID = Field(description="the norm of (node, period dates, currency); the aggregate id")
    node_id: uuid.UUID
    period: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    currency: str
    version: int
    source: Literal["manual", "derived"]
    from_periods: list[NormBasis] | None = Field(description="derived norms: the periods considered; manual: null")
    stages: list[StageNorm] = Field(description="stages without a norm are absent")
    set_by: uuid.UUID
    set_at: dt.datetime


register(
    EventSpec("kam.forecast.funnel_norm_set.v1", _T, FunnelNormSet,
              "A funnel norm (per open stage: count and amount) was set by hand or derived from daily stage "
              "snapshots of past periods; funnel-health ratings use it at once. Keyed by norm_id, "
              "sequence = version."),
)


# ------------------------------------------------------------------ exchange rates
class ExchangeRate(Payload):
    from_currency: str = Field(min_length=3, max_length=3)
    to_currency: str = Field(min_length=3, max_length=3)
    effective_date: _dt.date = Field(description="the first day of the month from which the rate is in force")
    rate: Decimal = Field(description="units of to_currency for one unit of from_currency")


class ExchangeRatesChanged(Payload):
    version: int = Field(description="the rate table's version after the change")
    rates: list[ExchangeRate] = Field(description="the rates set or changed by this call (others unchanged)")
    changed_by: uuid.UUID


register(
    EventSpec("kam.forecast.exchange_rates_changed.v1", _T, ExchangeRatesChanged,
              "Corporate exchange rates were set or changed; roll-ups convert with them at once (key "
              "`exchange-rates`, sequence = the rate table's version)."),
)
