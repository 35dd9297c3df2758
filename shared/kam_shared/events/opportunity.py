"""Events of opportunity-svc on `kam.opportunity.events`.

Every opportunity event is keyed by the opportunity id, its `sequence` is the opportunity's
version after the change, and it carries the full `opportunity` state after the change plus
what changed. Fields added after the first release all have defaults, so producers and
consumers built against the first release keep working.

`kam.opportunity.stage_model_changed.v1` is the one event not about a single opportunity: it
is keyed `stage-model`, its sequence is the stage model's version and it carries the whole
stage table.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from ..money import Money
from .base import TOPICS, EventSpec, FieldChange, Payload, register

ForecastCategory = Literal["pipeline", "best_case", "commit", "omitted"]
TeamRole = Literal["sales", "presales", "technical", "service", "executive_sponsor", "channel", "finance",
                   "legal", "other"]
SalesMode = Literal["bid", "direct_price_approval", "distribution"]
TenderType = Literal["open_single_quote", "open_second_quote", "negotiated", "framework"]
BidPlan = Literal["direct", "one_agent_one_plan", "us_and_agents_several_plans", "several_agents_several_plans"]
LossImpact = Literal["critical", "very_high", "medium", "normal"]
RelationshipDegree = Literal["full_control", "considerable", "moderate", "weak", "unknown"]
CreditStanding = Literal["good", "fair", "poor", "unknown"]
PartnerRole = Literal["agent", "distributor", "integrator", "partner"]


class OpportunityLineState(Payload):
    """A product/configuration line (配置需求): a product of the catalogue (GET /v1/products), unit prices
    in the opportunity's currency. `product_code` and `family` name the catalogue entry as it was when
    the line was written; `product` is its name (before the catalogue: the free text; kept readable for
    one version for clients that read it, use product_code)."""
    product: str = Field(description="the product's name (deprecated: read product_code)")
    product_code: str | None = Field(default=None, description="the catalogue code (null only in events "
                                                               "published before the catalogue)")
    family: str | None = Field(default=None, description="the product's family when the line was written")
    description: str | None = None
    quantity: int = Field(ge=1)
    expected_price: Money | None = Field(default=None, description="the customer's expected unit price (希望价格)")
    quoted_price: Money | None = Field(default=None, description="our quoted unit price (报价)")
    amount: Money = Field(description="quantity × (quoted price, else expected price, else 0)")


class TeamMemberState(Payload):
    """Someone working the opportunity besides the primary owner (`owner_id`)."""
    user_id: uuid.UUID
    role: TeamRole
    added_at: dt.datetime | None = None


class TenderLot(Payload):
    """One lot (分包) of a tender."""
    number: int = Field(ge=1)
    name: str
    amount: Money | None = None


class TenderPartner(Payload):
    """An agent or partner taking part in the bid, with its credit standing."""
    name: str
    role: PartnerRole = "agent"
    credit_standing: CreditStanding = "unknown"


class EvaluationWeights(Payload):
    """The customer's evaluation criteria in percent; they sum to 100."""
    price: int = Field(ge=0, le=100)
    service: int = Field(ge=0, le=100)
    technical: int = Field(ge=0, le=100)
    commercial: int = Field(ge=0, le=100)


class TenderState(Payload):
    """Tender/project details (大客户项目管理). Every field is optional: they are filled in as known."""
    sales_mode: SalesMode | None = Field(default=None, description="bid, direct price approval (批点), distribution")
    tender_type: TenderType | None = Field(
        default=None,
        description="open bid single quote, open bid with second quote, negotiated (议标), framework (统签)")
    single_quote_only: bool = False
    lots: list[TenderLot] = Field(default_factory=list)
    partners: list[TenderPartner] = Field(default_factory=list)
    bid_plan: BidPlan | None = None
    delivery_date: dt.date | None = None
    delivery_place: str | None = None
    evaluation_weights: EvaluationWeights | None = None
    impact_if_lost: LossImpact | None = None
    competing_brands: list[str] = Field(default_factory=list)
    background: str | None = None
    relationship_degree: RelationshipDegree | None = Field(
        default=None,
        description="客户关系度: full_control >80%, considerable >60%, moderate 30-60%, weak <30%, unknown")


class OpportunityState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    amount: Money
    currency: str
    close_date: dt.date
    owner_id: uuid.UUID = Field(description="the primary owner (主要负责人)")
    stage: int = Field(ge=1, le=8)
    probability: int = Field(ge=0, le=100)
    status: Literal["open", "won", "lost"]
    version: int
    updated_at: dt.datetime
    # Added with the full opportunity domain; all defaulted (see the module docstring).
    created_at: dt.datetime | None = None
    stage_entered_at: dt.datetime | None = None
    close_reason: str | None = None
    close_note: str | None = None
    lost_to_competitor: str | None = None
    confirmed: bool = Field(default=False, description="confirmed (确认) by the primary owner; counts in forecasts")
    confirmed_at: dt.datetime | None = None
    forecast_category: ForecastCategory | None = Field(
        default=None, description="the owner's override; null means derived from the stage")
    amount_from_lines: bool = False
    lines: list[OpportunityLineState] = Field(default_factory=list)
    team: list[TeamMemberState] = Field(default_factory=list)
    assessment_total: int | None = Field(default=None, description="latest value assessment total, 0..20")
    high_value: bool | None = Field(default=None, description="latest assessment total > 10; null: not assessed")
    tender: TenderState | None = None


class OpportunityCreated(Payload):
    opportunity: OpportunityState


class OpportunityStageChanged(Payload):
    opportunity: OpportunityState
    from_stage: int
    to_stage: int
    changed_by: uuid.UUID | None = None
    skipped: bool = Field(default=False, description="moved forward past at least one stage")
    days_in_from_stage: float | None = None


class OpportunityClosed(Payload):
    opportunity: OpportunityState
    outcome: Literal["won", "lost"]
    reason: str = Field(description="a code of the close reasons in force (GET /v1/close-reasons); before "
                                    "those existed, free text")
    note: str | None = Field(default=None, description="the closer's own words beside the reason")
    competitor: str | None = None
    from_stage: int
    closed_by: uuid.UUID | None = None
    days_in_from_stage: float | None = None


class OpportunityReopened(Payload):
    opportunity: OpportunityState
    from_status: Literal["won", "lost"]
    from_stage: int
    to_stage: int
    reason: str
    reopened_by: uuid.UUID | None = None


class OpportunityUpdated(Payload):
    """Fields changed (name, amount, currency, close_date, forecast_category, lines, amount_from_lines,
    account_id): each as {from, to}. `cause` says why when it was not a user's edit (an account merge)."""
    opportunity: OpportunityState
    changes: dict[str, FieldChange]
    changed_by: uuid.UUID | None = None
    cause: str | None = None


class OpportunityOwnerChanged(Payload):
    opportunity: OpportunityState
    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID
    changed_by: uuid.UUID | None = None
    reason: str | None = None


class OpportunityConfirmationChanged(Payload):
    opportunity: OpportunityState
    confirmed: FieldChange = Field(description="{from, to}: true when the owner confirmed, false when withdrawn")
    changed_by: uuid.UUID | None = None


class AssessmentDimensionScore(Payload):
    key: str
    title: str
    score: int = Field(ge=0, le=5)


class AssessmentState(Payload):
    """A value assessment (商机价值评估): 20 yes/no answers, 1 point each, in four dimensions."""
    number: int = Field(description="1 for the first assessment of this opportunity, then 2, 3, ...")
    answers: dict[str, bool]
    dimensions: list[AssessmentDimensionScore]
    total: int = Field(ge=0, le=20)
    high_value: bool = Field(description="total > 10")
    assessed_by: uuid.UUID | None = None
    assessed_at: dt.datetime


class OpportunityAssessmentRecorded(Payload):
    opportunity: OpportunityState
    assessment: AssessmentState
    total: FieldChange = Field(description="{from, to}; from is null on the first assessment")
    high_value: FieldChange


class OpportunityTenderUpdated(Payload):
    opportunity: OpportunityState
    tender: TenderState
    changes: dict[str, FieldChange]
    changed_by: uuid.UUID | None = None


class OpportunityTeamChanged(Payload):
    opportunity: OpportunityState
    user_id: uuid.UUID
    change: Literal["added", "role_changed", "removed"]
    role: FieldChange = Field(description="{from, to}: from is null when added, to is null when removed")
    changed_by: uuid.UUID | None = None


class StageState(Payload):
    number: int = Field(ge=1, le=8)
    name: str
    description: str
    probability: int = Field(ge=0, le=100)


class StageModelChanged(Payload):
    """The stage table after an admin's change. Open opportunities in a re-weighted stage take the
    stage's new probability (opportunity-svc updates them without an event of their own):
    weight open pipeline with these probabilities."""
    version: int
    stages: list[StageState]
    changes: dict[str, FieldChange] = Field(description='e.g. {"stage_3.probability": {"from": 30, "to": 35}}')
    changed_by: uuid.UUID | None = None


class CloseReasonState(Payload):
    outcome: Literal["won", "lost"]
    code: str
    labels: dict[str, str] = Field(description='{"zh-CN": ..., "en": ...}')
    needs_competitor: bool
    active: bool


class CloseReasonsChanged(Payload):
    """The list of close reasons after an admin's change, whole, in the admin's order."""
    version: int
    reasons: list[CloseReasonState]
    changed_by: uuid.UUID | None = None


class ProductState(Payload):
    """A product of the catalogue (产品目录): opportunity lines name it by code."""
    id: uuid.UUID
    code: str
    name: str
    family: str
    active: bool
    version: int
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class ProductCreated(Payload):
    product: ProductState
    changed_by: uuid.UUID | None = None


class ProductUpdated(Payload):
    """Name, family or active changed: each as {from, to}. Lines already written keep the name and
    family they were written with."""
    product: ProductState
    changes: dict[str, FieldChange]
    changed_by: uuid.UUID | None = None


_TOPIC = TOPICS["opportunity"]
register(
    EventSpec("kam.opportunity.created.v1", _TOPIC, OpportunityCreated, "An opportunity was created (stage 1)."),
    EventSpec("kam.opportunity.stage_changed.v1", _TOPIC, OpportunityStageChanged,
              "An open opportunity moved to another funnel stage (from_stage → to_stage)."),
    EventSpec("kam.opportunity.closed.v1", _TOPIC, OpportunityClosed,
              "An opportunity was closed won (stage 8, probability 100) or lost (probability 0)."),
    EventSpec("kam.opportunity.reopened.v1", _TOPIC, OpportunityReopened,
              "A closed opportunity was reopened into an open stage, with a reason."),
    EventSpec("kam.opportunity.updated.v1", _TOPIC, OpportunityUpdated,
              "Fields of an opportunity changed (amount, close date, lines, forecast category, account, ...)."),
    EventSpec("kam.opportunity.owner_changed.v1", _TOPIC, OpportunityOwnerChanged,
              "The primary owner changed (by a superior of the old owner or an admin)."),
    EventSpec("kam.opportunity.confirmation_changed.v1", _TOPIC, OpportunityConfirmationChanged,
              "The primary owner confirmed an opportunity for forecasting, or withdrew the confirmation."),
    EventSpec("kam.opportunity.assessment_recorded.v1", _TOPIC, OpportunityAssessmentRecorded,
              "A value assessment (20 questions) was recorded: sub-scores, total, high_value."),
    EventSpec("kam.opportunity.tender_updated.v1", _TOPIC, OpportunityTenderUpdated,
              "The tender/project details of an opportunity changed."),
    EventSpec("kam.opportunity.team_changed.v1", _TOPIC, OpportunityTeamChanged,
              "Someone joined or left the opportunity's sales team, or changed role."),
    EventSpec("kam.opportunity.stage_model_changed.v1", _TOPIC, StageModelChanged,
              "An admin changed the stage model (names, descriptions, probabilities); carries the whole table."),
    EventSpec("kam.opportunity.close_reasons_changed.v1", _TOPIC, CloseReasonsChanged,
              "An admin changed the list of won/lost reasons; carries the whole list."),
    EventSpec("kam.opportunity.product_created.v1", _TOPIC, ProductCreated,
              "An admin added a product to the catalogue (code, name, family)."),
    EventSpec("kam.opportunity.product_updated.v1", _TOPIC, ProductUpdated,
              "An admin changed a catalogue product's name, family or active flag."),
)
