"""Events of account-svc on `kam.account.events`.

Every account-svc aggregate is its own event subject: an account, or one of its contacts,
competitor entries, plans, interactions or complaints (each has its own id and version, so
`sequence` is that record's version and per-record order holds on the topic). Each payload
carries the full state after the change; updates add `changes` as {field: {from, to}}.

Enumerated values (status, tier, buying role, ...) are plain strings here, not closed enums,
so a consumer built today still parses events after a value is added; the API validates them.
"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import Field

from ..money import Money
from .base import TOPICS, EventSpec, FieldChange, Payload, register


class PhoneNumber(Payload):
    label: str | None = None
    number: str


class Address(Payload):
    kind: str = "office"
    line: str
    city: str | None = None
    province: str | None = None
    postcode: str | None = None
    country: str | None = None


class AccountState(Payload):
    """An account after a change. opportunity-svc's replica reads id, name, owner_id and version;
    everything after `version` was added later and has a default."""
    id: uuid.UUID
    name: str
    credit_code: str | None = None
    industry: str | None = None
    region: str | None = None
    owner_id: uuid.UUID | None = None
    version: int
    normalized_name: str | None = None
    status: str = "prospect"
    type: str | None = Field(default=None, description="economic | important | group | strategic")
    tier: str | None = Field(default=None, description="key | key_development | ordinary | deprioritised")
    parent_id: uuid.UUID | None = None
    centralised_purchasing: bool = False
    employees: int | None = None
    annual_revenue: Money | None = None
    annual_purchase_volume: Money | None = None
    currency: str = Field(default="CNY", description="currency of annual_revenue and annual_purchase_volume")
    installed_base: str | None = None
    business_situation: str | None = None
    website: str | None = None
    phones: list[PhoneNumber] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    gross_margin_pct: Decimal | None = Field(default=None, description="our gross margin on this account, %")
    strategic_flags: list[str] = Field(default_factory=list)
    merged_into_id: uuid.UUID | None = Field(default=None, description="set on a tombstone: the survivor")


class AccountCreated(Payload):
    account: AccountState
    created_by: uuid.UUID | None = None
    assignment_rule: str | None = Field(default=None, description="how the owner was chosen")


class AccountUpdated(Payload):
    """Profile fields changed. `cause`: update (PATCH), enrich (a duplicate create filled empty
    fields), merge (re-pointed because its parent or survivor was merged)."""
    account: AccountState
    changes: dict[str, FieldChange]
    cause: str = "update"
    changed_by: uuid.UUID | None = None


class AccountReassigned(Payload):
    account: AccountState
    from_owner_id: uuid.UUID | None
    to_owner_id: uuid.UUID
    reason: str | None = None
    changed_by: uuid.UUID | None = None


class AccountClassified(Payload):
    """Type and/or tier changed (客户分类评估); `changes` has {type|tier: {from, to}}."""
    account: AccountState
    changes: dict[str, FieldChange]
    reason: str | None = None
    score: int | None = Field(default=None, description="the tier score when the recommendation was applied")
    changed_by: uuid.UUID | None = None


class MergedRecords(Payload):
    """What moved from the merged account to the survivor (each also has its own updated event)."""
    child_account_ids: list[uuid.UUID] = Field(default_factory=list)
    contact_ids: list[uuid.UUID] = Field(default_factory=list)
    competitor_ids: list[uuid.UUID] = Field(default_factory=list)
    plan_ids: list[uuid.UUID] = Field(default_factory=list)
    interaction_ids: list[uuid.UUID] = Field(default_factory=list)
    complaint_ids: list[uuid.UUID] = Field(default_factory=list)


class AccountMerged(Payload):
    """`merged_id` was a duplicate of `survivor_id`: everything that pointed at it now points at the
    survivor (opportunity-svc re-points its opportunities). `account` is the survivor after the merge.
    Keyed by the survivor id; a tombstone of the merged account stays in account-svc."""
    survivor_id: uuid.UUID
    merged_id: uuid.UUID
    account: AccountState
    merged_version: int
    merged_account: AccountState | None = Field(default=None, description="the tombstone after the merge")
    filled_fields: list[str] = Field(default_factory=list, description="survivor fields filled from the merged")
    moved: MergedRecords = Field(default_factory=MergedRecords)
    merged_by: uuid.UUID | None = None


# --- contacts: the buying centre (决策人和影响者) ------------------------------------------------

class ContactState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    title: str | None = None
    department: str | None = Field(default=None, description="using | procurement | support")
    level: str | None = Field(default=None, description="operator | management | executive")
    buying_role: str | None = Field(default=None, description="decision_maker | technical_evaluator | user | "
                                                              "procurement | influencer | coach | blocker")
    attitude: str | None = Field(default=None, description="supporter | neutral | opponent (to us)")
    relationship_strength: str | None = Field(default=None, description="none | weak | moderate | strong")
    reports_to_id: uuid.UUID | None = None
    email: str | None = None
    phone: str | None = None
    notes: str | None = None
    active: bool = True
    version: int


class ContactAdded(Payload):
    contact: ContactState
    changed_by: uuid.UUID | None = None


class ContactUpdated(Payload):
    contact: ContactState
    changes: dict[str, FieldChange]
    cause: str = "update"
    changed_by: uuid.UUID | None = None


# --- competitor intelligence (竞争对手资料) ------------------------------------------------------

class CompetitorState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    competitor: str
    products_in_use: str | None = None
    customer_satisfaction: str | None = Field(default=None, description="very_low | low | medium | high | very_high")
    sales_rep: str | None = None
    sales_style: str | None = None
    rep_relationship: str | None = Field(default=None, description="none | weak | moderate | strong")
    strengths: str | None = None
    weaknesses: str | None = None
    bottom_line: str | None = None
    notes: str | None = None
    version: int


class CompetitorAdded(Payload):
    competitor: CompetitorState
    changed_by: uuid.UUID | None = None


class CompetitorUpdated(Payload):
    competitor: CompetitorState
    changes: dict[str, FieldChange]
    cause: str = "update"
    changed_by: uuid.UUID | None = None


# --- account plans (客户计划) --------------------------------------------------------------------

class PlanObjective(Payload):
    description: str
    measure: str | None = None
    target: str | None = None


class PlanCoverage(Payload):
    """客户覆盖计划: who on our side covers whom on theirs."""
    user_id: uuid.UUID
    contact_id: uuid.UUID
    notes: str | None = None


class PlanAction(Payload):
    id: uuid.UUID
    description: str
    owner_id: uuid.UUID
    due_date: dt.date
    status: str = "open"


class SponsorMeeting(Payload):
    """Executive sponsor meeting: our executive with one of theirs."""
    date: dt.date
    executive_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    notes: str | None = None


class PlanState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    period: str
    status: str = "draft"
    relationship_stage: str = Field(default="building", description="building → stable → strengthening")
    value_proposition: str | None = None
    objectives: list[PlanObjective] = Field(default_factory=list)
    coverage: list[PlanCoverage] = Field(default_factory=list)
    actions: list[PlanAction] = Field(default_factory=list)
    sponsor_meetings: list[SponsorMeeting] = Field(default_factory=list)
    version: int


class PlanCreated(Payload):
    plan: PlanState
    changed_by: uuid.UUID | None = None


class PlanUpdated(Payload):
    plan: PlanState
    changes: dict[str, FieldChange]
    cause: str = "update"
    changed_by: uuid.UUID | None = None


# --- interactions (拜访记录) ---------------------------------------------------------------------

class InteractionState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    kind: str = Field(description="visit | call | meeting | seminar | email")
    occurred_at: dt.datetime
    subject: str
    our_attendee_ids: list[uuid.UUID] = Field(default_factory=list)
    contact_ids: list[uuid.UUID] = Field(default_factory=list)
    notes: str | None = None
    next_step: str | None = None
    next_step_due: dt.date | None = None
    logged_by: uuid.UUID | None = None
    version: int


class InteractionLogged(Payload):
    interaction: InteractionState
    changed_by: uuid.UUID | None = None


class InteractionUpdated(Payload):
    interaction: InteractionState
    changes: dict[str, FieldChange]
    cause: str = "update"
    changed_by: uuid.UUID | None = None


# --- complaints (投诉) ---------------------------------------------------------------------------

class ComplaintState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    subject: str
    description: str | None = None
    severity: str = Field(default="medium", description="low | medium | high | critical")
    status: str = Field(default="open", description="open | in_progress | resolved | closed")
    contact_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    raised_at: dt.datetime
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    resolution_minutes: int | None = Field(default=None, description="raised → resolved")
    version: int


class ComplaintRaised(Payload):
    complaint: ComplaintState
    changed_by: uuid.UUID | None = None


class ComplaintUpdated(Payload):
    complaint: ComplaintState
    changes: dict[str, FieldChange]
    cause: str = "update"
    changed_by: uuid.UUID | None = None


# --- account teams (团队合作销售: a virtual team per account) -------------------------------------

class AccountTeamMember(Payload):
    user_id: uuid.UUID
    role: str = Field(description="sales | presales | technical | service | executive_sponsor | channel | "
                                  "finance | legal | other")
    added_at: dt.datetime
    added_by: uuid.UUID | None = None


class AccountTeamChanged(Payload):
    """The account team after a change, whole (the account manager, `account.owner_id`, stays the single
    owner and is not a member). Members see the account and its opportunities. `sequence` is the
    account's version: the team is part of the account aggregate."""
    account: AccountState
    members: list[AccountTeamMember]
    added: list[uuid.UUID] = Field(default_factory=list)
    removed: list[uuid.UUID] = Field(default_factory=list)
    role_changed: list[uuid.UUID] = Field(default_factory=list)
    changed_by: uuid.UUID | None = None


# --- account health and churn risk (流失) --------------------------------------------------------

class HealthPartState(Payload):
    key: str = Field(description="interactions | complaints | revenue_trend | lost_deals | buying_centre | "
                                 "relationship_stage | plan_actions")
    score: int = Field(description="0-100 for this part alone")
    weight: int = Field(description="the part's weight in the model (weights sum to 100)")
    points: Decimal = Field(description="score × weight / 100: what the part adds to the total")
    summary: str


class AccountHealthChanged(Payload):
    """The account's health moved across a band (healthy ≥ 70 > watch ≥ 40 > at_risk). Keyed by the
    account id; `sequence` counts the account's health recomputations that changed the stored score."""
    account_id: uuid.UUID
    owner_id: uuid.UUID | None = None
    score: int
    band: str = Field(description="healthy | watch | at_risk")
    from_score: int | None = None
    from_band: str | None = None
    parts: list[HealthPartState]
    model_version: int
    computed_at: dt.datetime
    cause: str = Field(description="what triggered the recompute: the input's event type, read, health_model, ...")


class HealthModelState(Payload):
    weights: dict[str, int] = Field(description="part key → weight; non-negative, summing to 100")
    version: int


class HealthModelChanged(Payload):
    """An admin changed the health model's weights; every stored score is re-weighted."""
    model: HealthModelState
    changes: dict[str, FieldChange]
    changed_by: uuid.UUID | None = None


_T = TOPICS["account"]
register(
    EventSpec("kam.account.created.v1", _T, AccountCreated, "An account was created and assigned."),
    EventSpec("kam.account.updated.v1", _T, AccountUpdated,
              "Account profile fields changed (PATCH, enrichment by a duplicate create, or re-pointed by a merge); "
              "each change as {from, to}."),
    EventSpec("kam.account.reassigned.v1", _T, AccountReassigned,
              "The account manager (owner) changed: from_owner_id → to_owner_id."),
    EventSpec("kam.account.classified.v1", _T, AccountClassified, "Account type and/or tier changed."),
    EventSpec("kam.account.merged.v1", _T, AccountMerged,
              "A duplicate account was merged into a survivor; re-point anything that referenced merged_id."),
    EventSpec("kam.account.contact_added.v1", _T, ContactAdded, "A contact was added to an account's buying centre."),
    EventSpec("kam.account.contact_updated.v1", _T, ContactUpdated, "A contact changed (role, attitude, ...)."),
    EventSpec("kam.account.competitor_added.v1", _T, CompetitorAdded, "Competitor intelligence was recorded."),
    EventSpec("kam.account.competitor_updated.v1", _T, CompetitorUpdated, "Competitor intelligence changed."),
    EventSpec("kam.account.plan_created.v1", _T, PlanCreated, "An account plan was created."),
    EventSpec("kam.account.plan_updated.v1", _T, PlanUpdated, "An account plan changed (status, stage, actions ...)."),
    EventSpec("kam.account.interaction_logged.v1", _T, InteractionLogged, "A visit, call, meeting ... was recorded."),
    EventSpec("kam.account.interaction_updated.v1", _T, InteractionUpdated, "An interaction record was corrected."),
    EventSpec("kam.account.complaint_raised.v1", _T, ComplaintRaised, "A customer complaint was raised."),
    EventSpec("kam.account.complaint_updated.v1", _T, ComplaintUpdated,
              "A complaint changed (status, assignee, resolution)."),
    EventSpec("kam.account.team_changed.v1", _T, AccountTeamChanged,
              "The account team changed (members added, removed or given another role); carries the whole team."),
    EventSpec("kam.account.health_changed.v1", _T, AccountHealthChanged,
              "An account's health score moved across a band (healthy / watch / at_risk), with its parts."),
    EventSpec("kam.account.health_model_changed.v1", _T, HealthModelChanged,
              "An admin changed the weights of the account health model."),
)
