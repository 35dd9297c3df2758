import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kam_shared.money import Money


class OpportunityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID
    name: str = Field(min_length=1, max_length=300)
    amount: Money
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. CNY")
    close_date: dt.date
    owner_id: uuid.UUID | None = Field(default=None, description="defaults to the caller")


class StageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: int = Field(ge=1, le=7, description="1..7; stage 8 is reached by closing")


class Close(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["won", "lost"]
    reason: str = Field(min_length=1, max_length=2000)
    competitor: str | None = Field(default=None, max_length=200, description="who won, when lost")


class OpportunityOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    amount: Money
    currency: str
    close_date: dt.date
    owner_id: uuid.UUID
    stage: int
    stage_name: str
    probability: int
    status: Literal["open", "won", "lost"]
    close_reason: str | None = None
    lost_to_competitor: str | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class OpportunityPage(BaseModel):
    items: list[OpportunityOut]
    next_cursor: str | None


class StageHistoryEntry(BaseModel):
    from_stage: int | None
    to_stage: int
    status: str
    changed_by: uuid.UUID | None
    changed_at: dt.datetime


class StageOut(BaseModel):
    number: int
    name: str
    description: str
    probability: int
