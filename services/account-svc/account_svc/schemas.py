"""API models. Inputs forbid unknown fields and validate every closed vocabulary, so a wrong
value is a 422 naming the field before any use case runs."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kam_shared.money import Money

from .domain import vocabulary as v

Status = Literal[v.ACCOUNT_STATUSES]
AccountType = Literal[v.ACCOUNT_TYPES]
Tier = Literal[v.ACCOUNT_TIERS]
StrategicFlag = Literal[v.STRATEGIC_FLAGS]
Percent = Annotated[Decimal, Field(ge=-100, le=100, max_digits=5, decimal_places=2)]
ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhoneNumber(Input):
    label: str | None = Field(default=None, max_length=50, description="e.g. switchboard, fax, hotline")
    number: str = Field(min_length=1, max_length=50)


class Address(Input):
    kind: Literal[v.ADDRESS_KINDS] = "office"
    line: str = Field(min_length=1, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=100)


# --- accounts ------------------------------------------------------------------------------------

class AccountProfileFields(Input):
    """The profile as a PATCH sends it: only the fields present change; null clears an optional one."""
    name: str | None = Field(default=None, min_length=1, max_length=300, description="legal name")
    credit_code: str | None = Field(default=None, max_length=40,
                                    description="unified social credit code (统一社会信用代码), 18 characters")
    industry: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    status: Status = Field(default=None, description="prospect | active | dormant | lost")  # type: ignore[assignment]
    parent_id: uuid.UUID | None = Field(default=None, description="the group or head office above this account")
    centralised_purchasing: bool = Field(default=None, description="统一采购: the group buys for its members")  # type: ignore[assignment]
    employees: int | None = Field(default=None, ge=0)
    annual_revenue: Money | None = None
    annual_purchase_volume: Money | None = Field(default=None, description="their yearly purchases of our category")
    currency: str = Field(default=None, min_length=3, max_length=3,  # type: ignore[assignment]
                          description="ISO 4217; the currency of annual_revenue and annual_purchase_volume")
    installed_base: LongText | None = Field(default=None, description="同类产品安装和使用状况")
    business_situation: LongText | None = None
    website: str | None = Field(default=None, max_length=300)
    phones: list[PhoneNumber] = Field(default=None, max_length=20)  # type: ignore[assignment]
    addresses: list[Address] = Field(default=None, max_length=20)  # type: ignore[assignment]
    gross_margin_pct: Percent | None = Field(default=None, description="our gross margin on this account (input "
                                                                       "for tiering; not in opportunity events)")
    strategic_flags: list[StrategicFlag] = Field(default=None, max_length=4)  # type: ignore[assignment]


class AccountCreate(AccountProfileFields):
    name: str = Field(min_length=1, max_length=300, description="legal name")
    owner_id: uuid.UUID | None = Field(default=None, description="the account manager; default: territory rules, "
                                                                 "then the creator")
    type: AccountType | None = None
    tier: Tier | None = None


class AccountPatch(AccountProfileFields):
    pass


class AccountOut(BaseModel):
    id: uuid.UUID
    name: str
    normalized_name: str
    credit_code: str | None
    industry: str | None
    region: str | None
    owner_id: uuid.UUID | None
    status: str
    type: str | None
    tier: str | None
    parent_id: uuid.UUID | None
    centralised_purchasing: bool
    employees: int | None
    annual_revenue: Money | None
    annual_purchase_volume: Money | None
    currency: str
    installed_base: str | None
    business_situation: str | None
    website: str | None
    phones: list[dict]
    addresses: list[dict]
    gross_margin_pct: Decimal | None
    strategic_flags: list[str]
    merged_into_id: uuid.UUID | None = Field(description="set when this account was merged away (a tombstone)")
    version: int
    created_by: uuid.UUID | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None


class SnapshotPage(BaseModel):
    items: list[AccountOut]
    next_cursor: str | None
    as_of: dt.datetime


class Reassign(Input):
    owner_id: uuid.UUID
    reason: str | None = Field(default=None, max_length=2000)


class OwnerHistoryEntry(BaseModel):
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID
    rule: str
    reason: str | None
    changed_by: uuid.UUID | None
    changed_at: dt.datetime


class Classify(Input):
    type: AccountType | None = None
    tier: Tier | None = None
    apply_recommendation: bool = Field(default=False, description="set the tier the tier score recommends")
    currency: str = Field(default="CNY", min_length=3, max_length=3,
                          description="reporting currency of the won revenue the recommendation uses")
    reason: str | None = Field(default=None, max_length=2000)


class Merge(Input):
    from_id: uuid.UUID = Field(description="the duplicate; it becomes a tombstone pointing at this account")


class DuplicateCandidate(BaseModel):
    id: uuid.UUID
    name: str
    credit_code: str | None
    region: str | None
    score: int = Field(description="0-100: 100 same credit code, 95 same normalised name, else name similarity")
    exact: bool = Field(description="creating this account would be refused (409) because of this one")
    reasons: list[str]
    visible: bool = Field(description="whether you may open it (GET answers 404 otherwise)")


class Duplicates(BaseModel):
    normalized_name: str | None
    credit_code: str | None
    candidates: list[DuplicateCandidate]


class TreeNode(BaseModel):
    id: uuid.UUID
    name: str | None = Field(description="null when restricted")
    restricted: bool = Field(description="in the hierarchy but not visible to you")
    owner_id: uuid.UUID | None = None
    type: str | None = None
    tier: str | None = None
    centralised_purchasing: bool | None = None
    children: list["TreeNode"] = []


class Tree(BaseModel):
    ancestors: list[TreeNode] = Field(description="from the top of the hierarchy down to the parent")
    tree: TreeNode


class CriterionOut(BaseModel):
    name: str
    points: int
    max_points: int
    value: str | None
    explanation: str


class TierRecommendationOut(BaseModel):
    account_id: uuid.UUID
    score: int
    max_score: int
    recommended_tier: str
    current_tier: str | None
    criteria: list[CriterionOut]
    caps: list[str]
    currency: str
    revenue_window: dict[str, dt.date]


class ParetoItem(BaseModel):
    account_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    tier: str | None
    rank: int
    won_amount: Money
    share_pct: Decimal
    cumulative_pct: Decimal
    pareto_class: Literal["A", "B", "C"]
    in_top: bool


class ParetoOut(BaseModel):
    currency: str
    threshold_pct: Decimal
    since: dt.date | None
    until: dt.date | None
    total_won: Money
    accounts_with_revenue: int
    top_accounts: int
    top_share_of_accounts_pct: Decimal = Field(description="the top as a share of accounts with won revenue")
    items: list[ParetoItem]
    other_currencies: dict[str, Money] = Field(description="won revenue in other currencies, not summed in")


# --- contacts ------------------------------------------------------------------------------------

class ContactFields(Input):
    name: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    title: ShortText | None = None
    department: Literal[v.DEPARTMENTS] | None = Field(default=None, description="using | procurement | support")
    level: Literal[v.LEVELS] | None = None
    buying_role: Literal[v.BUYING_ROLES] | None = None
    attitude: Literal[v.ATTITUDES] | None = Field(default=None, description="towards us")
    relationship_strength: Literal[v.RELATIONSHIP_STRENGTHS] | None = Field(default=None, description="ours with them")
    reports_to_id: uuid.UUID | None = Field(default=None, description="a contact of the same account")
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    notes: LongText | None = None


class ContactCreate(ContactFields):
    name: str = Field(min_length=1, max_length=200)


class ContactPatch(ContactFields):
    active: bool = Field(default=None, description="false: left the company (kept for history)")  # type: ignore[assignment]


class ContactOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    title: str | None
    department: str | None
    level: str | None
    buying_role: str | None
    attitude: str | None
    relationship_strength: str | None
    reports_to_id: uuid.UUID | None
    email: str | None
    phone: str | None
    notes: str | None
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ContactPage(BaseModel):
    items: list[ContactOut]
    next_cursor: str | None


class Gap(BaseModel):
    code: str
    detail: str


class BuyingCentre(BaseModel):
    account_id: uuid.UUID
    contacts: int
    counts: dict[str, dict[str, int]]
    gaps: list[Gap]
    org_chart: list[dict]


# --- competitors ---------------------------------------------------------------------------------

class CompetitorFields(Input):
    competitor: str = Field(default=None, min_length=1, max_length=200)  # type: ignore[assignment]
    products_in_use: LongText | None = None
    customer_satisfaction: Literal[v.SATISFACTION] | None = Field(default=None, description="with the competitor")
    sales_rep: ShortText | None = Field(default=None, description="the competitor's rep at this account")
    sales_style: LongText | None = None
    rep_relationship: Literal[v.RELATIONSHIP_STRENGTHS] | None = Field(default=None,
                                                                       description="their rep's with the customer")
    strengths: LongText | None = None
    weaknesses: LongText | None = None
    bottom_line: LongText | None = Field(default=None, description="their price floor / walk-away point")
    notes: LongText | None = None


class CompetitorCreate(CompetitorFields):
    competitor: str = Field(min_length=1, max_length=200)


class CompetitorPatch(CompetitorFields):
    pass


class CompetitorOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    competitor: str
    products_in_use: str | None
    customer_satisfaction: str | None
    sales_rep: str | None
    sales_style: str | None
    rep_relationship: str | None
    strengths: str | None
    weaknesses: str | None
    bottom_line: str | None
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CompetitorPage(BaseModel):
    items: list[CompetitorOut]
    next_cursor: str | None


# --- plans ---------------------------------------------------------------------------------------

class Objective(Input):
    description: str = Field(min_length=1, max_length=2000)
    measure: str | None = Field(default=None, max_length=500)
    target: str | None = Field(default=None, max_length=200)


class Coverage(Input):
    user_id: uuid.UUID = Field(description="who on our side")
    contact_id: uuid.UUID = Field(description="covers whom on theirs (a contact of this account)")
    notes: str | None = Field(default=None, max_length=2000)


class Action(Input):
    id: uuid.UUID | None = Field(default=None, description="keep it when sending the list back; new ones get one")
    description: str = Field(min_length=1, max_length=2000)
    owner_id: uuid.UUID
    due_date: dt.date
    status: Literal[v.ACTION_STATUSES] = "open"


class SponsorMeeting(Input):
    date: dt.date
    executive_id: uuid.UUID = Field(description="our executive sponsor")
    contact_id: uuid.UUID | None = Field(default=None, description="their executive")
    notes: str | None = Field(default=None, max_length=2000)


PERIOD = r"^\d{4}(-(Q[1-4]|H[12]|(0[1-9]|1[0-2])))?$"


class PlanFields(Input):
    title: str = Field(default=None, min_length=1, max_length=300)  # type: ignore[assignment]
    period: str = Field(default=None, pattern=PERIOD, description="2026, 2026-H1, 2026-Q3 or 2026-11")  # type: ignore[assignment]
    status: Literal[v.PLAN_STATUSES] = None  # type: ignore[assignment]
    relationship_stage: Literal[v.RELATIONSHIP_STAGES] = Field(  # type: ignore[assignment]
        default=None, description="building (建立关系) → stable (稳定关系) → strengthening (加强关系)")
    value_proposition: LongText | None = None
    objectives: list[Objective] = Field(default=None, max_length=50)  # type: ignore[assignment]
    coverage: list[Coverage] = Field(default=None, max_length=200)  # type: ignore[assignment]
    actions: list[Action] = Field(default=None, max_length=200)  # type: ignore[assignment]
    sponsor_meetings: list[SponsorMeeting] = Field(default=None, max_length=100)  # type: ignore[assignment]


class PlanCreate(PlanFields):
    title: str = Field(min_length=1, max_length=300)
    period: str = Field(pattern=PERIOD, description="2026, 2026-H1, 2026-Q3 or 2026-11")
    status: Literal[v.PLAN_STATUSES] = "draft"
    relationship_stage: Literal[v.RELATIONSHIP_STAGES] = "building"
    objectives: list[Objective] = Field(default_factory=list, max_length=50)
    coverage: list[Coverage] = Field(default_factory=list, max_length=200)
    actions: list[Action] = Field(default_factory=list, max_length=200)
    sponsor_meetings: list[SponsorMeeting] = Field(default_factory=list, max_length=100)


class PlanPatch(PlanFields):
    """Lists (objectives, coverage, actions, sponsor_meetings) are replaced as a whole."""


class PlanOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    period: str
    status: str
    relationship_stage: str
    value_proposition: str | None
    objectives: list[dict]
    coverage: list[dict]
    actions: list[dict]
    sponsor_meetings: list[dict]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class PlanPage(BaseModel):
    items: list[PlanOut]
    next_cursor: str | None


# --- interactions ---------------------------------------------------------------------------------

class InteractionFields(Input):
    kind: Literal[v.INTERACTION_KINDS] = None  # type: ignore[assignment]
    occurred_at: AwareDatetime = None  # type: ignore[assignment]
    subject: str = Field(default=None, min_length=1, max_length=300)  # type: ignore[assignment]
    our_attendee_ids: list[uuid.UUID] = Field(default=None, max_length=50)  # type: ignore[assignment]
    contact_ids: list[uuid.UUID] = Field(default=None, max_length=50,  # type: ignore[assignment]
                                         description="their attendees: contacts of this account")
    notes: LongText | None = None
    next_step: str | None = Field(default=None, max_length=2000)
    next_step_due: dt.date | None = None


class InteractionCreate(InteractionFields):
    kind: Literal[v.INTERACTION_KINDS]
    occurred_at: AwareDatetime = Field(description="ISO 8601 with a zone")
    subject: str = Field(min_length=1, max_length=300)
    our_attendee_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50,
                                              description="default: the person recording it")
    contact_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class InteractionPatch(InteractionFields):
    pass


class InteractionOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    kind: str
    occurred_at: dt.datetime
    subject: str
    our_attendee_ids: list[uuid.UUID]
    contact_ids: list[uuid.UUID]
    notes: str | None
    next_step: str | None
    next_step_due: dt.date | None
    logged_by: uuid.UUID | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class InteractionPage(BaseModel):
    items: list[InteractionOut]
    next_cursor: str | None


# --- complaints ----------------------------------------------------------------------------------

class ComplaintFields(Input):
    subject: str = Field(default=None, min_length=1, max_length=300)  # type: ignore[assignment]
    description: LongText | None = None
    severity: Literal[v.COMPLAINT_SEVERITIES] = None  # type: ignore[assignment]
    contact_id: uuid.UUID | None = Field(default=None, description="who complained (a contact of this account)")
    assignee_id: uuid.UUID | None = Field(default=None, description="who on our side handles it")


class ComplaintCreate(ComplaintFields):
    subject: str = Field(min_length=1, max_length=300)
    severity: Literal[v.COMPLAINT_SEVERITIES] = "medium"
    raised_at: AwareDatetime | None = Field(default=None, description="default: now")


class ComplaintPatch(ComplaintFields):
    status: Literal[v.COMPLAINT_STATUSES] = Field(  # type: ignore[assignment]
        default=None, description="open → in_progress → resolved → closed; resolved/closed → open reopens")
    resolution: LongText | None = Field(default=None, description="required to resolve or close")


class ComplaintOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    subject: str
    description: str | None
    severity: str
    status: str
    contact_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    raised_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str | None
    resolution_minutes: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    next_cursor: str | None
