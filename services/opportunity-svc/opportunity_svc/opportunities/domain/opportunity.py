"""The opportunity aggregate (商机): funnel moves, closing and reopening, field edits with product
lines, confirmation, the sales team and its primary owner, value assessments and tender details.

Pure: every change checks its rules, bumps the version once, records one domain event carrying
the full state after the change plus what changed, and (for funnel moves) a stage-history entry
for the repository to write. No I/O and no clock: every change takes `now`; facts that need the
database (is the caller above the owner in the hierarchy?) are passed in.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from kam_shared.domain_errors import Conflict, Forbidden, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange
from kam_shared.events.opportunity import (
    AssessmentDimensionScore,
    AssessmentState,
    OpportunityAssessmentRecorded,
    OpportunityClosed,
    OpportunityConfirmationChanged,
    OpportunityCreated,
    OpportunityLineState,
    OpportunityOwnerChanged,
    OpportunityReopened,
    OpportunityStageChanged,
    OpportunityState,
    OpportunityTeamChanged,
    OpportunityTenderUpdated,
    OpportunityUpdated,
    TeamMemberState,
    TenderState,
)
from kam_shared.money import CENT, validate_currency

from ...products.domain import Product
from ...stage_model.domain import OPEN_STAGES, WON_STAGE, StageModel, move_kind
from .assessment import Score
from .lines import MAX_AMOUNT, ProductLine, amount_of, clean_lines
from .tender import clean_tender, tender_changes

FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "omitted")
# Fields an edit (PATCH) may change, as they appear in the event state.
EDITABLE = ("name", "amount", "currency", "close_date", "forecast_category", "lines", "amount_from_lines")


@dataclass(frozen=True)
class TeamMember:
    user_id: uuid.UUID
    role: str
    added_at: dt.datetime


@dataclass(frozen=True)
class StageLogEntry:
    """One row of the stage history: who moved it, when, from where to where, and how."""
    kind: str  # created | advanced | skipped_forward | moved_back | won | lost | reopened
    from_stage: int | None
    to_stage: int
    status: str
    by: uuid.UUID | None
    at: dt.datetime
    reason: str | None = None


def _days(since: dt.datetime | None, until: dt.datetime) -> float | None:
    return round((until - since).total_seconds() / 86400, 4) if since else None


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
    close_note: str | None = None
    lost_to_competitor: str | None = None
    version: int = 1
    updated_at: dt.datetime | None = None  # always set: by open() or from the row
    created_at: dt.datetime | None = None
    stage_entered_at: dt.datetime | None = None
    confirmed: bool = False
    confirmed_at: dt.datetime | None = None
    confirmed_by: uuid.UUID | None = None
    forecast_category: str | None = None
    amount_from_lines: bool = False
    lines: tuple[ProductLine, ...] = ()
    team: tuple[TeamMember, ...] = ()
    assessment_total: int | None = None
    high_value: bool | None = None
    tender: TenderState | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    stage_log: list[StageLogEntry] = field(default_factory=list, repr=False)

    # ---------------------------------------------------------------- creation
    @classmethod
    def open(cls, *, account_id: uuid.UUID, name: str, amount: Decimal, currency: str, close_date: dt.date,
             owner_id: uuid.UUID, now: dt.datetime, model: StageModel = StageModel(),
             by: uuid.UUID | None = None) -> "Opportunity":
        name = " ".join(name.split())
        if not name:
            raise ValidationProblem("name must not be blank", field="name")
        if amount < 0:
            raise ValidationProblem("amount must not be negative", field="amount")
        opp = cls(id=uuid.uuid4(), account_id=account_id, name=name, amount=amount.quantize(CENT), currency=currency,
                  close_date=close_date, owner_id=owner_id, stage=1, probability=model.probability(1),
                  updated_at=now, created_at=now, stage_entered_at=now)
        opp.stage_log.append(StageLogEntry("created", None, 1, "open", by, now))
        opp._emit("kam.opportunity.created.v1", OpportunityCreated)
        return opp

    # ---------------------------------------------------------------- helpers
    def _require_open(self) -> None:
        if self.status != "open":
            raise Conflict(f"opportunity is closed ({self.status}); reopen it before changing it", field="status")

    def _touch(self, now: dt.datetime) -> dt.datetime:
        self.version += 1
        self.updated_at = now
        return self.updated_at

    def _record(self, event_type: str, payload_cls, *, now: dt.datetime, **data) -> None:
        """A new version at `now`, and its event."""
        self._touch(now)
        self._emit(event_type, payload_cls, **data)

    def _emit(self, event_type: str, payload_cls, **data) -> None:
        """One event carrying the state after the change (the version is already bumped)."""
        self.events.append(DomainEvent(event_type, self.id, self.version,
                                       payload_cls(opportunity=self.state(), **data)))

    def _enter_stage(self, stage: int, probability: int, now: dt.datetime) -> float | None:
        """Set the stage as a new version; returns the days spent in the stage being left."""
        self._touch(now)
        days = _days(self.stage_entered_at, now)
        self.stage, self.probability, self.stage_entered_at = stage, probability, now
        return days

    def _snapshot(self) -> dict:
        return self.state().model_dump(mode="json")

    # ---------------------------------------------------------------- funnel
    def move_to(self, stage: int, model: StageModel, by: uuid.UUID | None, *, now: dt.datetime) -> bool:
        """Move within the open funnel (1-7). Skipping forward and stepping back are allowed and
        recorded; moving to the current stage changes nothing. Returns whether anything changed."""
        self._require_open()
        if stage not in OPEN_STAGES:
            raise ValidationProblem("stage must be 1..7; close the opportunity to reach stage 8", field="stage")
        if stage == self.stage:
            return False
        before = self.stage
        kind = move_kind(before, stage)
        days = self._enter_stage(stage, model.probability(stage), now)
        self._emit("kam.opportunity.stage_changed.v1", OpportunityStageChanged,
                     from_stage=before, to_stage=stage,
                     changed_by=by, skipped=kind == "skipped_forward", days_in_from_stage=days)
        self.stage_log.append(StageLogEntry(kind, before, stage, "open", by, self.updated_at))
        return True

    def close(self, outcome: str, reason: str, competitor: str | None, by: uuid.UUID | None, *,
              now: dt.datetime, note: str | None = None) -> None:
        """`reason` is a close-reason code the caller checked against the list in force (with the
        competitor it requires: close_reasons.domain); the rules here hold for any reason."""
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
        days = self._enter_stage(WON_STAGE, 100 if outcome == "won" else 0, now)
        self.status = outcome
        self.close_reason = reason
        self.close_note = (note or "").strip() or None
        self.lost_to_competitor = (competitor or "").strip() or None
        self._emit("kam.opportunity.closed.v1", OpportunityClosed, outcome=outcome, reason=reason,
                     note=self.close_note, competitor=self.lost_to_competitor, from_stage=before, closed_by=by,
                     days_in_from_stage=days)
        self.stage_log.append(StageLogEntry(outcome, before, WON_STAGE, outcome, by, self.updated_at, reason))

    def reopen(self, reason: str, to_stage: int, model: StageModel, by: uuid.UUID | None, *,
               now: dt.datetime) -> None:
        """Only a closed opportunity can be reopened; it goes back to an open stage (1-7)."""
        if self.status == "open":
            raise Conflict("opportunity is open; only a closed opportunity can be reopened", field="status")
        reason = (reason or "").strip()
        if not reason:
            raise ValidationProblem("a reason is required to reopen an opportunity", field="reason")
        if to_stage not in OPEN_STAGES:
            raise ValidationProblem("an opportunity reopens into stage 1..7", field="stage")
        from_status, from_stage = self.status, self.stage
        self._enter_stage(to_stage, model.probability(to_stage), now)
        self.status, self.close_reason, self.close_note, self.lost_to_competitor = "open", None, None, None
        self._emit("kam.opportunity.reopened.v1", OpportunityReopened, from_status=from_status,
                     from_stage=from_stage, to_stage=to_stage, reason=reason, reopened_by=by)
        self.stage_log.append(StageLogEntry("reopened", from_stage, to_stage, "open", by, self.updated_at, reason))

    def reweight(self, model: StageModel) -> None:
        """The stage model changed: an open opportunity takes its stage's new probability. Not a change
        of the opportunity (no version, no event): the stage_model_changed event tells subscribers."""
        if self.status == "open":
            self.probability = model.probability(self.stage)

    # ---------------------------------------------------------------- fields and lines
    def update(self, fields: dict, by: uuid.UUID | None, *, now: dt.datetime,
               catalogue: Mapping[str, Product] | None = None) -> bool:
        """Apply an edit. `fields` holds only what the caller sent (name, amount, currency, close_date,
        forecast_category, lines as dicts, amount_from_lines); `catalogue` the products the lines name
        (code → product). Returns whether anything changed."""
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            raise ValidationProblem(f"cannot edit {', '.join(sorted(unknown))} here", field=sorted(unknown)[0])
        self._require_open()
        before = self._snapshot()
        self._edit_forecast_category(fields, by)
        self._edit_name(fields)
        self._edit_close_date(fields)
        self._edit_currency(fields)
        if "lines" in fields:
            self.lines = clean_lines(fields["lines"] or [], self.currency, catalogue or {})
        if "amount_from_lines" in fields:
            self.amount_from_lines = bool(fields["amount_from_lines"])
        self._edit_amount(fields)
        after = self._snapshot()
        changes = {k: FieldChange(before=before[k], after=after[k]) for k in EDITABLE if before[k] != after[k]}
        if not changes:
            return False
        self._record("kam.opportunity.updated.v1", OpportunityUpdated, changes=changes, changed_by=by, now=now)
        return True

    def _edit_forecast_category(self, fields: dict, by: uuid.UUID | None) -> None:
        """The primary owner's override of the stage-derived category (null clears it)."""
        if "forecast_category" not in fields or fields["forecast_category"] == self.forecast_category:
            return
        if by != self.owner_id:
            raise Forbidden("only the primary owner sets the forecast category of an opportunity",
                            field="forecast_category")
        if fields["forecast_category"] not in (None, *FORECAST_CATEGORIES):
            raise ValidationProblem(f"forecast_category must be one of {', '.join(FORECAST_CATEGORIES)} "
                                    "or null", field="forecast_category")
        self.forecast_category = fields["forecast_category"]

    def _edit_name(self, fields: dict) -> None:
        if "name" not in fields:
            return
        name = " ".join((fields["name"] or "").split())
        if not name:
            raise ValidationProblem("name must not be blank", field="name")
        self.name = name

    def _edit_close_date(self, fields: dict) -> None:
        if "close_date" not in fields:
            return
        if fields["close_date"] is None:
            raise ValidationProblem("close_date is required", field="close_date")
        self.close_date = fields["close_date"]

    def _edit_currency(self, fields: dict) -> None:
        """A new currency needs new lines when the current lines carry prices (they are in the old one)."""
        if "currency" not in fields:
            return
        currency = validate_currency(fields["currency"] or "")
        if currency != self.currency and "lines" not in fields and any(
                line.expected_price is not None or line.quoted_price is not None for line in self.lines):
            raise ValidationProblem(f"currency mismatch: the product lines are priced in {self.currency}; "
                                    f"send the lines priced in {currency} with the new currency",
                                    field="currency")
        self.currency = currency

    def _edit_amount(self, fields: dict) -> None:
        """Derived from the lines when amount_from_lines is on (a different amount sent is refused), else as sent."""
        if self.amount_from_lines:
            derived = amount_of(self.lines)
            if "amount" in fields and fields["amount"] is not None and Decimal(fields["amount"]) != derived:
                raise ValidationProblem(f"amount is derived from the product lines ({derived}); send "
                                        "amount_from_lines false to set it by hand", field="amount")
            self.amount = derived
        elif "amount" in fields:
            amount = fields["amount"]
            if amount is None or Decimal(amount) < 0:
                raise ValidationProblem("amount must be a non-negative decimal", field="amount")
            if Decimal(amount) > MAX_AMOUNT:
                raise ValidationProblem("amount is too large", field="amount")
            self.amount = Decimal(amount).quantize(CENT)

    def repoint_account(self, survivor_id: uuid.UUID, cause: str, *, now: dt.datetime) -> bool:
        """The account was merged into `survivor_id` (a system change: closed opportunities move too)."""
        if self.account_id == survivor_id:
            return False
        before = self.account_id
        self.account_id = survivor_id
        self._record("kam.opportunity.updated.v1", OpportunityUpdated,
                     changes={"account_id": FieldChange(before=str(before), after=str(survivor_id))},
                     changed_by=None, cause=cause, now=now)
        return True

    # ---------------------------------------------------------------- confirmation
    def set_confirmed(self, confirmed: bool, by: uuid.UUID | None, *, now: dt.datetime) -> bool:
        """The primary owner confirms (确认) an opportunity before it counts in a forecast."""
        if by != self.owner_id:
            raise Forbidden("only the primary owner confirms an opportunity", field="confirmed")
        self._require_open()
        if confirmed == self.confirmed:
            return False
        self.confirmed = confirmed
        self.confirmed_at = now if confirmed else None
        self.confirmed_by = by if confirmed else None
        self._record("kam.opportunity.confirmation_changed.v1", OpportunityConfirmationChanged,
                     confirmed=FieldChange(before=not confirmed, after=confirmed), changed_by=by, now=now)
        return True

    # ---------------------------------------------------------------- sales team and owner
    def change_owner(self, new_owner: uuid.UUID, by: uuid.UUID | None, *, by_is_admin: bool,
                     by_is_above_owner: bool, now: dt.datetime, reason: str | None = None) -> bool:
        """Only a superior of the current primary owner (any level up) or an admin may hand the
        opportunity to someone else. The new owner has not confirmed it yet."""
        if not (by_is_admin or by_is_above_owner):
            who = "the owner themselves" if by == self.owner_id else "a peer or subordinate of the owner"
            raise Forbidden(f"only a superior of the current primary owner or an admin may change the primary "
                            f"owner; you are {who}", field="owner_id")
        self._require_open()
        if new_owner == self.owner_id:
            return False
        before = self.owner_id
        self.owner_id = new_owner
        self.team = tuple(m for m in self.team if m.user_id != new_owner)
        self.confirmed, self.confirmed_at, self.confirmed_by = False, None, None
        self._record("kam.opportunity.owner_changed.v1", OpportunityOwnerChanged, from_owner_id=before,
                     to_owner_id=new_owner, changed_by=by, reason=(reason or "").strip() or None, now=now)
        return True

    def set_team_member(self, user_id: uuid.UUID, role: str, by: uuid.UUID | None, *, now: dt.datetime) -> bool:
        self._require_open()
        if user_id == self.owner_id:
            raise ValidationProblem("that user is the primary owner; change the owner instead", field="user_id")
        current = next((m for m in self.team if m.user_id == user_id), None)
        if current is not None and current.role == role:
            return False
        member = TeamMember(user_id, role, current.added_at if current else now)
        self.team = tuple(member if m.user_id == user_id else m for m in self.team) if current else \
            (*self.team, member)
        self._record("kam.opportunity.team_changed.v1", OpportunityTeamChanged, user_id=user_id,
                     change="role_changed" if current else "added",
                     role=FieldChange(before=current.role if current else None, after=role), changed_by=by,
                     now=now)
        return True

    def remove_team_member(self, user_id: uuid.UUID, by: uuid.UUID | None, *, now: dt.datetime) -> None:
        self._require_open()
        if user_id == self.owner_id:
            raise ValidationProblem("the primary owner cannot leave the team; change the owner first",
                                    field="user_id")
        current = next((m for m in self.team if m.user_id == user_id), None)
        if current is None:
            raise ValidationProblem(f"user {user_id} is not on this opportunity's team", field="user_id")
        self.team = tuple(m for m in self.team if m.user_id != user_id)
        self._record("kam.opportunity.team_changed.v1", OpportunityTeamChanged, user_id=user_id, change="removed",
                     role=FieldChange(before=current.role, after=None), changed_by=by, now=now)

    # ---------------------------------------------------------------- assessment and tender
    def record_assessment(self, score: Score, number: int, by: uuid.UUID | None, *,
                          now: dt.datetime) -> AssessmentState:
        """Keep the latest result on the opportunity (for filtering); the caller keeps the history."""
        self._require_open()
        before_total, before_high = self.assessment_total, self.high_value
        self.assessment_total, self.high_value = score.total, score.high_value
        self._touch(now)
        assessment = AssessmentState(
            number=number, answers=score.answers, total=score.total, high_value=score.high_value,
            dimensions=[AssessmentDimensionScore(key=k, title=t, score=s) for k, t, s in score.dimensions],
            assessed_by=by, assessed_at=self.updated_at)
        self._emit("kam.opportunity.assessment_recorded.v1", OpportunityAssessmentRecorded,
                     assessment=assessment, total=FieldChange(before=before_total, after=score.total),
                     high_value=FieldChange(before=before_high, after=score.high_value))
        return assessment

    def set_tender(self, tender: TenderState, by: uuid.UUID | None, *, now: dt.datetime) -> bool:
        self._require_open()
        tender = clean_tender(tender)
        changes = tender_changes(self.tender, tender)
        if not changes:
            return False
        self.tender = tender
        self._record("kam.opportunity.tender_updated.v1", OpportunityTenderUpdated, tender=tender,
                     changes={k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()}, changed_by=by,
                     now=now)
        return True

    # ---------------------------------------------------------------- state
    def state(self) -> OpportunityState:
        return OpportunityState(
            id=self.id, account_id=self.account_id, name=self.name, amount=self.amount, currency=self.currency,
            close_date=self.close_date, owner_id=self.owner_id, stage=self.stage, probability=self.probability,
            status=self.status, version=self.version, updated_at=self.updated_at, created_at=self.created_at,
            stage_entered_at=self.stage_entered_at, close_reason=self.close_reason, close_note=self.close_note,
            lost_to_competitor=self.lost_to_competitor, confirmed=self.confirmed, confirmed_at=self.confirmed_at,
            forecast_category=self.forecast_category, amount_from_lines=self.amount_from_lines,
            lines=[OpportunityLineState(product=line.product, product_code=line.product_code, family=line.family,
                                        description=line.description, quantity=line.quantity,
                                        expected_price=line.expected_price, quoted_price=line.quoted_price,
                                        amount=line.amount) for line in self.lines],
            team=[TeamMemberState(user_id=m.user_id, role=m.role, added_at=m.added_at) for m in self.team],
            assessment_total=self.assessment_total, high_value=self.high_value, tender=self.tender)
