"""Request and response bodies of account health and the health model."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

Band = Literal["healthy", "watch", "at_risk"]


class HealthPartOut(BaseModel):
    key: str = Field(description="interactions | complaints | revenue_trend | lost_deals | buying_centre | "
                                 "relationship_stage | plan_actions")
    title: str
    score: int = Field(description="0-100 for this part alone")
    weight: int = Field(description="its weight in the model (weights sum to 100)")
    points: Decimal = Field(description="score × weight / 100: what it adds to the total")
    summary: str = Field(description="the part in words")
    facts: dict[str, Any] = Field(description="the facts behind it (dates, counts, amounts, names)")


class HealthOut(BaseModel):
    account_id: uuid.UUID
    score: int = Field(description="0-100: Σ part points")
    band: Band
    parts: list[HealthPartOut]
    model_version: int
    computed_at: dt.datetime
    cause: str = Field(description="what last changed the stored score: an input's event type, read, periodic, "
                                   "health_model")
    bands: dict[str, int] = Field(description="lower bound of each band")


class HealthModelIn(BaseModel):
    weights: dict[str, Any] = Field(description="part → whole non-negative weight; every part, summing to 100",
                                    examples=[{"interactions": 25, "complaints": 15, "revenue_trend": 20,
                                               "lost_deals": 10, "buying_centre": 15, "relationship_stage": 5,
                                               "plan_actions": 10}])


class HealthModelOut(BaseModel):
    weights: dict[str, int]
    version: int
    parts: list[dict[str, str]]
    bands: dict[str, int]
    tier_norms: dict[str, dict[str, int]]
    updated_by: uuid.UUID | None = None
    updated_at: dt.datetime | None = None


class RecomputeOut(BaseModel):
    recomputed: int
    band_changes: int
    more: bool = Field(description="the limit was reached: call again")
