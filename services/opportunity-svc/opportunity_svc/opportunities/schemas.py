import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kam_shared.events.opportunity import (
    AssessmentDimensionScore,
    EvaluationWeights,
    ForecastCategory,
    OpportunityLineState,
    OpportunityState,
    TeamRole,
    TenderLot,
    TenderPartner,
    TenderState,
)
from kam_shared.http import INT_MAX, Day
from kam_shared.money import Money


class OpportunityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: uuid.UUID
    name: str = Field(min_length=1, max_length=300)
    amount: Money
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. CNY")
    close_date: Day
    owner_id: uuid.UUID | None = Field(default=None, description="defaults to the caller")


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_code: str = Field(min_length=1, max_length=40, description="an active product of the catalogue "
                                                                       "(GET /v1/products); the free-text "
                                                                       "`product` of earlier versions is gone")
    description: str | None = Field(default=None, max_length=2000)
    quantity: int = Field(ge=1, le=INT_MAX, description="whole units, at least 1")
    expected_price: Money | None = Field(default=None, description="the customer's expected unit price (希望价格)")
    quoted_price: Money | None = Field(default=None, description="our quoted unit price (报价)")
    currency: str | None = Field(default=None, description="if given, must be the opportunity's currency")


class OpportunityPatch(BaseModel):
    """Send only what changes. `lines` replaces all product lines. With `amount_from_lines` true the
    amount is Σ quantity × (quoted, else expected) price and follows the lines."""
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=300)
    amount: Money | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    close_date: Day | None = None
    forecast_category: ForecastCategory | None = Field(
        default=None, description="the primary owner's override; null clears it (derived from the stage)")
    lines: list[LineIn] | None = Field(default=None, max_length=200)
    amount_from_lines: StrictBool | None = None


class StageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: int = Field(ge=1, le=7, description="1..7; stage 8 is reached by closing")


class Close(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["won", "lost"]
    reason: str = Field(min_length=1, max_length=40, description="an active code of GET /v1/close-reasons for "
                                                                 "the outcome")
    competitor: str | None = Field(default=None, max_length=200,
                                   description="who won, when lost; required unless the reason needs none "
                                               "(no_decision, cancelled)")
    note: str | None = Field(default=None, max_length=2000, description="your own words beside the reason")


class Reopen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    stage: int | None = Field(default=None, ge=1, le=7,
                              description="open stage to reopen into; defaults to the stage it was closed from")


class Confirm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirmed: StrictBool = True


class OwnerChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: uuid.UUID
    reason: str | None = Field(default=None, max_length=2000)


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: TeamRole


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, StrictBool] = Field(description="all 20 question keys (GET /v1/opportunities/assessment-"
                                                       "questions), each true or false")


FORBID = ConfigDict(extra="forbid")  # the event models keep unknown fields; API input refuses them


class LotIn(TenderLot):
    model_config = FORBID
    number: int = Field(ge=1, le=INT_MAX)


class PartnerIn(TenderPartner):
    model_config = FORBID


class WeightsIn(EvaluationWeights):
    model_config = FORBID


class TenderIn(TenderState):
    """Replaces the tender details as a whole (the event's TenderState, refusing unknown fields)."""
    model_config = FORBID
    lots: list[LotIn] = Field(default_factory=list, max_length=100)
    partners: list[PartnerIn] = Field(default_factory=list, max_length=100)
    evaluation_weights: WeightsIn | None = None
    competing_brands: list[str] = Field(default_factory=list, max_length=100)


class LineOut(OpportunityLineState):
    pass


class OpportunityOut(OpportunityState):
    stage_name: str
    created_at: dt.datetime
    stage_entered_at: dt.datetime
    confirmed_by: uuid.UUID | None = None


class StageHistoryEntry(BaseModel):
    kind: str = Field(description="created | advanced | skipped_forward | moved_back | won | lost | reopened")
    from_stage: int | None
    to_stage: int
    status: str
    changed_by: uuid.UUID | None
    changed_at: dt.datetime
    reason: str | None = None
    left_at: dt.datetime | None = Field(description="when the next entry moved it on; null while current")
    days_in_stage: float | None = Field(description="days spent in to_stage (so far, while current and open)")


class QuestionOut(BaseModel):
    key: str
    text: str


class DimensionOut(BaseModel):
    key: str
    title: str
    questions: list[QuestionOut]


class AssessmentOut(BaseModel):
    number: int
    answers: dict[str, bool]
    dimensions: list[AssessmentDimensionScore]
    total: int
    high_value: bool
    assessed_by: uuid.UUID | None
    assessed_at: dt.datetime
    opportunity_version: int


class TeamMemberOut(BaseModel):
    user_id: uuid.UUID
    role: TeamRole | Literal["primary_owner"]
    primary: bool = False
    name: str | None = Field(default=None, description="from the user replica; null for a member you may not see")
    added_at: dt.datetime | None = None
