"""Events of opportunity-svc on `kam.opportunity.events`."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field

from ..money import Money
from .base import TOPICS, EventSpec, Payload, register


class OpportunityState(Payload):
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    amount: Money
    currency: str
    close_date: dt.date
    owner_id: uuid.UUID
    stage: int = Field(ge=1, le=8)
    probability: int = Field(ge=0, le=100)
    status: Literal["open", "won", "lost"]
    version: int
    updated_at: dt.datetime


class OpportunityCreated(Payload):
    opportunity: OpportunityState


class OpportunityStageChanged(Payload):
    opportunity: OpportunityState
    from_stage: int
    to_stage: int
    changed_by: uuid.UUID | None = None


class OpportunityClosed(Payload):
    opportunity: OpportunityState
    outcome: Literal["won", "lost"]
    reason: str
    competitor: str | None = None
    from_stage: int
    closed_by: uuid.UUID | None = None


register(
    EventSpec("kam.opportunity.created.v1", TOPICS["opportunity"], OpportunityCreated,
              "An opportunity was created (stage 1)."),
    EventSpec("kam.opportunity.stage_changed.v1", TOPICS["opportunity"], OpportunityStageChanged,
              "An open opportunity moved to another funnel stage (from_stage → to_stage)."),
    EventSpec("kam.opportunity.closed.v1", TOPICS["opportunity"], OpportunityClosed,
              "An opportunity was closed won (stage 8, probability 100) or lost (probability 0)."),
)
