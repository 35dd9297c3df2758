"""API models of the admin's import of past opportunity history."""
import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kam_shared.http import Day
from kam_shared.money import Money


class ImportStep(BaseModel):
    """One past change, at `at`: exactly one of a stage move (`stage`), an edit (`close_date` and/or
    `amount`: a slip or a re-estimate) or the close (`outcome` with `reason`, and `competitor` when lost
    to someone)."""
    model_config = ConfigDict(extra="forbid")
    at: AwareDatetime = Field(description="when it happened: after the previous step, not in the future")
    stage: int | None = Field(default=None, ge=1, le=7)
    close_date: Day | None = None
    amount: Money | None = None
    outcome: Literal["won", "lost"] | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=40)
    competitor: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class OpportunityImport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID
    name: str = Field(min_length=1, max_length=300)
    amount: Money
    currency: str = Field(min_length=3, max_length=3)
    close_date: Day
    owner_id: uuid.UUID
    created_at: AwareDatetime = Field(description="when it was opened (stage 1), not in the future")
    steps: list[ImportStep] = Field(default_factory=list, max_length=50)

