import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class StageCategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: int = Field(ge=1, le=7)
    category: Literal["pipeline", "best_case", "commit", "omitted"]


class CategoryMappingOut(BaseModel):
    version: int
    mapping: list[StageCategoryIn]
    updated_by: uuid.UUID | None
    updated_at: dt.datetime | None
