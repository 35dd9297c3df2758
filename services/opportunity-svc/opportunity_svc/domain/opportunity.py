"""The opportunity aggregate (商机): funnel moves and closing. Pure: records events, no I/O."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from kam_shared.errors import Conflict, ValidationProblem
from kam_shared.money import CENT
from kam_shared.events import (DomainEvent, OpportunityClosed, OpportunityCreated, OpportunityStageChanged,
                               OpportunityState, utcnow)

from .funnel import OPEN_STAGES, WON_STAGE, probability_of


@dataclass
class Opportunity:
    id: uuid.UUID
    account_id: uuid.UUID
    name: str
    amount: Decimal
    currency: str
    close_date: dt.date
    owner_id: uuid.UUID
    stage: int = 1
    probability: int = 10
    status: str = "open"
    close_reason: str | None = None
    lost_to_competitor: str | None = None
    version: int = 1
    updated_at: dt.datetime = field(default_factory=utcnow)
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, *, account_id: uuid.UUID, name: str, amount: Decimal, currency: str, close_date: dt.date,
             owner_id: uuid.UUID) -> "Opportunity":
        name = " ".join(name.split())
        if not name:
            raise ValidationProblem("name must not be blank", field="name")
        if amount < 0:
            raise ValidationProblem("amount must not be negative", field="amount")
        opp = cls(id=uuid.uuid4(), account_id=account_id, name=name, amount=amount.quantize(CENT), currency=currency,
                  close_date=close_date, owner_id=owner_id, stage=1, probability=probability_of(1))
        opp.events.append(DomainEvent("kam.opportunity.created.v1", opp.id, opp.version,
                                      OpportunityCreated(opportunity=opp.state())))
        return opp

    def _require_open(self) -> None:
        if self.status != "open":
            raise Conflict(f"opportunity is closed ({self.status}); reopen it before changing it", field="status")

    def _touch(self) -> None:
        self.version += 1
        self.updated_at = utcnow()

    def move_to(self, stage: int, by: uuid.UUID | None) -> bool:
        """Move within the open funnel (1-7). Skipping forward and stepping back are allowed and
        recorded; moving to the current stage changes nothing. Returns whether anything changed."""
        self._require_open()
        if stage not in OPEN_STAGES:
            raise ValidationProblem("stage must be 1..7; close the opportunity to reach stage 8", field="stage")
        if stage == self.stage:
            return False
        before = self.stage
        self.stage, self.probability = stage, probability_of(stage)
        self._touch()
        self.events.append(DomainEvent("kam.opportunity.stage_changed.v1", self.id, self.version,
                                       OpportunityStageChanged(opportunity=self.state(), from_stage=before,
                                                               to_stage=stage, changed_by=by)))
        return True

    def close(self, outcome: str, reason: str, competitor: str | None, by: uuid.UUID | None) -> None:
        self._require_open()
        reason = (reason or "").strip()
        if not reason:
            raise ValidationProblem("a reason is required to close an opportunity", field="reason")
        if outcome not in ("won", "lost"):
            raise ValidationProblem("outcome must be won or lost", field="outcome")
        if outcome == "won" and competitor:
            raise ValidationProblem("competitor names who won a lost opportunity; omit it when won",
                                    field="competitor")
        before = self.stage
        self.stage = WON_STAGE
        self.probability = 100 if outcome == "won" else 0
        self.status = outcome
        self.close_reason = reason
        self.lost_to_competitor = (competitor or "").strip() or None
        self._touch()
        self.events.append(DomainEvent("kam.opportunity.closed.v1", self.id, self.version, OpportunityClosed(
            opportunity=self.state(), outcome=outcome, reason=reason, competitor=self.lost_to_competitor,
            from_stage=before, closed_by=by)))

    def state(self) -> OpportunityState:
        return OpportunityState(id=self.id, account_id=self.account_id, name=self.name, amount=self.amount,
                                currency=self.currency, close_date=self.close_date, owner_id=self.owner_id,
                                stage=self.stage, probability=self.probability, status=self.status,
                                version=self.version, updated_at=self.updated_at)
