"""Builders of the events other services publish, for forecast-svc's API tests."""
import datetime as dt
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest

from kam_shared.events import (
    DomainEvent,
    FieldChange,
    OpportunityClosed,
    OpportunityCreated,
    OpportunityStageChanged,
    OpportunityState,
    utcnow,
)
from kam_shared.events.opportunity import StageModelChanged, StageState
from kam_shared.events.team import QuotaApproved, QuotaCreated, QuotaRevised, QuotaState, QuotaSubmitted

PROBABILITY = {1: 10, 2: 20, 3: 30, 4: 40, 5: 50, 6: 70, 7: 90}


class Opportunity:
    """The events opportunity-svc would publish for one opportunity."""

    def __init__(self, owner, amount="100.00", close=dt.date(2026, 11, 20), currency="CNY", confirmed=False):
        self.state = OpportunityState(id=uuid.uuid4(), account_id=uuid.uuid4(), name="deal", amount=Decimal(amount),
                                      currency=currency, close_date=close, owner_id=owner, stage=1, probability=10,
                                      status="open", version=1, updated_at=utcnow(), confirmed=confirmed)

    def created(self):
        return DomainEvent("kam.opportunity.created.v1", self.state.id, 1,
                           OpportunityCreated(opportunity=self.state)).to_cloudevent("/kam/opportunity-svc")

    def move(self, stage):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": stage, "probability": PROBABILITY[stage],
                                                   "version": self.state.version + 1})
        return DomainEvent("kam.opportunity.stage_changed.v1", self.state.id, self.state.version,
                           OpportunityStageChanged(opportunity=self.state, from_stage=before, to_stage=stage)
                           ).to_cloudevent("/kam/opportunity-svc")

    def close(self, outcome="won"):
        before = self.state.stage
        self.state = self.state.model_copy(update={"stage": 8, "probability": 100 if outcome == "won" else 0,
                                                   "status": outcome, "version": self.state.version + 1})
        return DomainEvent("kam.opportunity.closed.v1", self.state.id, self.state.version, OpportunityClosed(
            opportunity=self.state, outcome=outcome, reason="r", from_stage=before)).to_cloudevent("/kam/o")

    def at_stage(self, stage):
        """created, then moved straight to `stage` (the events, in order)."""
        return [self.created()] + ([self.move(stage)] if stage != 1 else [])


class Quota:
    """The events team-svc would publish for one quota through its workflow."""

    def __init__(self, responsible, amount, period="FY2026-Q4", start=dt.date(2026, 10, 1),
                 end=dt.date(2027, 1, 1), owner_kind="user", owner_id=None, currency="CNY"):
        self.state = QuotaState(id=uuid.uuid4(), owner_kind=owner_kind, owner_id=owner_id or responsible,
                                responsible_user_id=responsible, period=period, period_start=start, period_end=end,
                                currency=currency, amount=Decimal(amount), approved_amount=None, status="draft",
                                revision=1, version=1)

    def _next(self, **changes):
        self.state = self.state.model_copy(update={**changes, "version": self.state.version + 1})
        return self.state

    def _event(self, kind, payload):
        return DomainEvent(f"kam.team.quota_{kind}.v1", self.state.id, self.state.version, payload
                           ).to_cloudevent("/kam/team-svc")

    def created(self):
        return self._event("created", QuotaCreated(quota=self.state))

    def submitted(self):
        return self._event("submitted", QuotaSubmitted(quota=self._next(status="submitted"),
                                                       submitted_by=self.state.owner_id))

    def approved(self, by=None):
        return self._event("approved", QuotaApproved(quota=self._next(status="approved",
                                                                      approved_amount=self.state.amount),
                                                     approved_by=by or uuid.uuid4()))

    def revised(self, amount, by=None):
        """A new revision: back to draft; the approved target stays until it is approved again."""
        return self._event("revised", QuotaRevised(
            quota=self._next(status="draft", amount=Decimal(amount), revision=self.state.revision + 1),
            reason="market grew", revised_by=by or uuid.uuid4()))


def stage_model_changed(version: int, changes: dict[int, int]):
    """The stage model's event: every stage's probability as PROBABILITY (stage 8: 100), but `changes`."""
    probs = {**PROBABILITY, 8: 100} | changes
    return DomainEvent("kam.opportunity.stage_model_changed.v1", "stage-model", version, StageModelChanged(
        version=version, stages=[StageState(number=n, name=f"s{n}", description="", probability=p)
                                 for n, p in probs.items()],
        changes={f"stage_{n}.probability": FieldChange(before=None, after=p) for n, p in changes.items()},
    )).to_cloudevent("/kam/opportunity-svc")


@pytest.fixture(scope="session")
def events():
    """Event builders: events.Opportunity(owner, ...), events.Quota(responsible, amount, ...),
    events.stage_model_changed(version, {stage: probability})."""
    return SimpleNamespace(Opportunity=Opportunity, Quota=Quota, stage_model_changed=stage_model_changed)
