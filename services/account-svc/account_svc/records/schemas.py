"""API models of the records kept per account: contacts (and the buying centre), competitor
entries, plans, interactions, complaints."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from kam_shared.http import Day, Timestamp

from ..common import vocabulary as v
from ..common.schemas import Input, LongText, ShortText

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
    occurred_at: Timestamp = None  # type: ignore[assignment]
    subject: str = Field(default=None, min_length=1, max_length=300)  # type: ignore[assignment]
    our_attendee_ids: list[uuid.UUID] = Field(default=None, max_length=50)  # type: ignore[assignment]
    contact_ids: list[uuid.UUID] = Field(default=None, max_length=50,  # type: ignore[assignment]
                                         description="their attendees: contacts of this account")
    notes: LongText | None = None
    next_step: str | None = Field(default=None, max_length=2000)
    next_step_due: Day | None = None


class InteractionCreate(InteractionFields):
    kind: Literal[v.INTERACTION_KINDS]
    occurred_at: Timestamp = Field(description="ISO 8601 with a zone")
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
    raised_at: Timestamp | None = Field(default=None, description="default: now")


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
