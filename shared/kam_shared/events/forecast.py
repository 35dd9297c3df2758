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
