"""Quotas (销售指标): targets per period for org units and people, split top-down, approved by
someone above the owner, revised as new revisions with a reason. Pure."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from kam_shared.domain_errors import Conflict, Forbidden, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange
from kam_shared.events.team import (
    FiscalCalendarState,
    FiscalPeriod,
    QuotaAllocated,
    QuotaApproved,
    QuotaChild,
    QuotaCreated,
    QuotaRejected,
    QuotaRevised,
    QuotaState,
    QuotaSubmitted,
    QuotaUpdated,
)
from kam_shared.money import CENT

METHODS = ("even", "weights", "last_year_won", "amounts")


def parse_period(calendar: FiscalCalendarState, label: str) -> FiscalPeriod:
    try:
        return calendar.parse(label)
    except ValueError as exc:
        raise ValidationProblem(str(exc), field="period") from None


def check_target(amount: Decimal, fieldname: str = "amount") -> Decimal:
    if amount < 0:
        raise ValidationProblem("a target cannot be negative", field=fieldname)
    return Decimal(amount).quantize(CENT)


@dataclass
class Quota:
    id: uuid.UUID
    owner_kind: str
    owner_id: uuid.UUID
    responsible_user_id: uuid.UUID | None
    period: str
    period_start: dt.date
    period_end: dt.date
    currency: str
    amount: Decimal
    approved_amount: Decimal | None = None
    status: str = "draft"
    revision: int = 1
    parent_quota_id: uuid.UUID | None = None
    allocation_method: str | None = None
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    # What the history table records for each change: (action, reason, actor).
    history: list[tuple[str, str | None, uuid.UUID | None]] = field(default_factory=list, repr=False)

    @classmethod
    def set(cls, *, owner_kind: str, owner_id: uuid.UUID, responsible_user_id: uuid.UUID | None,
            period: FiscalPeriod, currency: str, amount: Decimal, by: uuid.UUID | None,
            parent_quota_id: uuid.UUID | None = None) -> "Quota":
        quota = cls(id=uuid.uuid4(), owner_kind=owner_kind, owner_id=owner_id, responsible_user_id=responsible_user_id,
                    period=period.label, period_start=period.start, period_end=period.end, currency=currency,
                    amount=check_target(amount), parent_quota_id=parent_quota_id)
        quota.events.append(DomainEvent("kam.team.quota_created.v1", quota.id, quota.version,
                                        QuotaCreated(quota=quota.state(), created_by=by)))
        quota.history.append(("created", None, by))
        return quota

    def state(self) -> QuotaState:
        return QuotaState(id=self.id, owner_kind=self.owner_kind, owner_id=self.owner_id,
                          responsible_user_id=self.responsible_user_id, period=self.period,
                          period_start=self.period_start, period_end=self.period_end, currency=self.currency,
                          amount=self.amount, approved_amount=self.approved_amount, status=self.status,
                          revision=self.revision, parent_quota_id=self.parent_quota_id, version=self.version)

    def _require(self, *statuses: str, doing: str) -> None:
        if self.status not in statuses:
            raise Conflict(f"cannot {doing} a {self.status} quota (it must be {' or '.join(statuses)})",
                           field="status")

    def retarget(self, amount: Decimal, by: uuid.UUID | None, *, parent_quota_id: object = ...) -> bool:
        """A draft's target changes (by hand, or because an allocation re-split the parent)."""
        self._require("draft", doing="change the target of")
        amount = check_target(amount)
        changes: dict[str, tuple] = {}
        if amount != self.amount:
            changes["amount"] = (self.amount, amount)
        if parent_quota_id is not ... and parent_quota_id != self.parent_quota_id:
            changes["parent_quota_id"] = (self.parent_quota_id, parent_quota_id)
        if not changes:
            return False
        for k, (_, after) in changes.items():
            setattr(self, k, after)
        self.version += 1
        self.events.append(DomainEvent("kam.team.quota_updated.v1", self.id, self.version, QuotaUpdated(
            quota=self.state(), changes={k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()},
            changed_by=by)))
        self.history.append(("updated", None, by))
        return True

    def submit(self, by: uuid.UUID) -> None:
        self._require("draft", doing="submit")
        self.status = "submitted"
        self.version += 1
        self.events.append(DomainEvent("kam.team.quota_submitted.v1", self.id, self.version,
                                       QuotaSubmitted(quota=self.state(), submitted_by=by)))
        self.history.append(("submitted", None, by))

    def approve(self, by: uuid.UUID, *, approver_is_above: bool, approver_is_admin: bool) -> None:
        """The approver must stand above the quota's owner (an admin may approve any quota but
        their own); nobody approves their own quota."""
        if by == self.responsible_user_id:
            raise Forbidden("you cannot approve your own quota; someone above you must")
        if not (approver_is_above or approver_is_admin):
            raise Forbidden("only someone above the quota's owner in the hierarchy can approve it")
        self._require("submitted", doing="approve")
        self.status = "approved"
        self.approved_amount = self.amount
        self.version += 1
        self.events.append(DomainEvent("kam.team.quota_approved.v1", self.id, self.version,
                                       QuotaApproved(quota=self.state(), approved_by=by)))
        self.history.append(("approved", None, by))

    def reject(self, by: uuid.UUID, reason: str, *, approver_is_above: bool, approver_is_admin: bool) -> None:
        if by == self.responsible_user_id:
            raise Forbidden("you cannot decide on your own quota; someone above you must")
        if not (approver_is_above or approver_is_admin):
            raise Forbidden("only someone above the quota's owner in the hierarchy can reject it")
        self._require("submitted", doing="reject")
        reason = _reason(reason)
        self.status = "draft"
        self.version += 1
        self.events.append(DomainEvent("kam.team.quota_rejected.v1", self.id, self.version,
                                       QuotaRejected(quota=self.state(), rejected_by=by, reason=reason)))
        self.history.append(("rejected", reason, by))

    def revise(self, amount: Decimal, reason: str, by: uuid.UUID) -> None:
        """An approved target changes only as a new revision, with a reason; it is a draft again
        (approved_amount stays the last approved target until the revision is approved)."""
        self._require("approved", doing="revise")
        reason = _reason(reason)
        amount = check_target(amount)
        before = (self.amount, self.revision, self.status)
        self.amount, self.revision, self.status = amount, self.revision + 1, "draft"
        self.version += 1
        self.events.append(DomainEvent("kam.team.quota_revised.v1", self.id, self.version, QuotaRevised(
            quota=self.state(), reason=reason, revised_by=by, changes={
                "amount": FieldChange(before=before[0], after=amount),
                "revision": FieldChange(before=before[1], after=self.revision),
                "status": FieldChange(before=before[2], after="draft")})))
        self.history.append(("revised", reason, by))

    def record_allocation(self, method: str, children: list[QuotaChild], allocation: "Allocation",
                          by: uuid.UUID, *, over_allocation_reason: str | None = None) -> None:
        """The parent of a top-down split: its own target is unchanged; the event says how it was split."""
        self.allocation_method = method
        self.version += 1
        over = allocation.gap < 0
        self.events.append(DomainEvent("kam.team.quota_allocated.v1", self.id, self.version, QuotaAllocated(
            quota=self.state(), method=method, children=children, allocated_amount=allocation.allocated,
            gap=allocation.gap, over_allocation_approved_by=by if over else None,
            over_allocation_reason=over_allocation_reason if over else None, allocated_by=by)))
        self.history.append(("allocated", over_allocation_reason if over else None, by))

    def effective_target(self) -> Decimal | None:
        """What attainment is measured against: the last approved target (None before approval)."""
        return self.approved_amount


def _reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationProblem("a reason is required", field="reason")
    return reason


# ------------------------------------------------------------------------- top-down allocation


def split_cents(total_cents: int, weights: list[Decimal]) -> list[int]:
    """Split exactly by weights (largest remainder): the parts always add up to the total."""
    if not weights:
        return []
    if any(w < 0 for w in weights):
        raise ValidationProblem("weights cannot be negative", field="children")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValidationProblem("the weights add up to zero; nothing to split by", field="children")
    raw = [Decimal(total_cents) * w / weight_sum for w in weights]
    parts = [int(r) for r in raw]  # floor (all non-negative)
    short = total_cents - sum(parts)
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - parts[i], -i), reverse=True)
    for i in order[:short]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class ChildTarget:
    owner_kind: str
    owner_id: uuid.UUID
    weight: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class Allocation:
    amounts: list[Decimal]
    weights: list[Decimal | None]
    allocated: Decimal
    gap: Decimal  # parent − allocated; negative = over-allocated


def allocate(parent_amount: Decimal, method: str, children: list[ChildTarget], *,
             last_year_won_cents: dict[uuid.UUID, int] | None = None,
             uplift_percent: Decimal = Decimal("0")) -> Allocation:
    """Children's targets for a parent target.

    even / weights / last_year_won split parent × (1 + uplift%) exactly; amounts takes the
    children's amounts as given. The result says how far the children fall short of (gap > 0)
    or exceed (gap < 0) the parent."""
    if method not in METHODS:
        raise ValidationProblem(f"method must be one of {', '.join(METHODS)}", field="method")
    if not children:
        raise ValidationProblem("there is nobody to allocate to: no children given and the owner has none",
                                field="children")
    if len({c.owner_id for c in children}) != len(children):
        raise ValidationProblem("a child appears twice", field="children")
    if uplift_percent < 0:
        raise ValidationProblem("uplift_percent cannot be negative", field="uplift_percent")
    parent_amount = check_target(parent_amount)
    if method == "amounts":
        missing = [c for c in children if c.amount is None]
        if missing:
            raise ValidationProblem(f"method amounts needs an amount for every child ({missing[0].owner_id} has none)",
                                    field="children")
        amounts = [check_target(c.amount, "children") for c in children]
        weights: list[Decimal | None] = [None] * len(children)
    else:
        if method == "even":
            weights = [Decimal(1)] * len(children)
        elif method == "weights":
            if any(c.weight is None for c in children):
                raise ValidationProblem("method weights needs a weight for every child", field="children")
            weights = [Decimal(c.weight) for c in children]
        else:
            won = last_year_won_cents or {}
            weights = [Decimal(won.get(c.owner_id, 0)) for c in children]
            if sum(weights) <= 0:
                raise ValidationProblem("none of the children won anything in the same period last year; "
                                        "allocate evenly or by weights", field="method")
        total = (parent_amount * (1 + uplift_percent / 100)).quantize(CENT, rounding=ROUND_HALF_UP)
        amounts = [Decimal(c) / 100 for c in split_cents(int(total * 100), weights)]
        amounts = [a.quantize(CENT) for a in amounts]
    allocated = sum(amounts, Decimal("0.00"))
    return Allocation(amounts=amounts, weights=weights, allocated=allocated, gap=parent_amount - allocated)
