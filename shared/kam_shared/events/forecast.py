"""Events of forecast-svc on `kam.forecast.events`.

* `category_mapping_changed`: the forecast principles' stage → category mapping changed; keyed
  `category-mapping`, `sequence` is the mapping's version.
* Forecast submission (逐层上报) and funnel-health events are added by those slices below.
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


# ------------------------------------------------------------- funnel health (销售漏斗健康度)
# Appended by the funnel-health / attainment slice (issue 6, parts 4-5); other slices keep their own block.
# Imports sit here, not at the top, so the slices' blocks never touch the same lines.

import datetime as dt  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Literal  # noqa: E402

from ..money import Money  # noqa: E402


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
