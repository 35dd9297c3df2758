"""Incentive plans (奖金激励) and payouts. Pure.

A plan pays a commission on revenue, band by band of attainment (revenue ÷ quota):

* `base_rate_percent` — the rate wherever no tier says otherwise;
* `tiers` — [from%, to%) bands of attainment with their own rate (e.g. 0–50%: 2%, 50–100%: 5%);
* `accelerators` — bands at or above 100% that multiply the applicable rate (e.g. 100–150%: ×1.5);
* `cap_amount` — the most one person can earn per payout period.

Bands are given in ascending order and may not overlap. The statement has one line per band the
person reached, so everyone sees what each tier and accelerator contributed.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from kam_shared.domain_errors import Conflict, Forbidden, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange
from kam_shared.events.team import (
    IncentiveAccelerator,
    IncentiveCostAnalysed,
    IncentivePlanApproved,
    IncentivePlanCreated,
    IncentivePlanState,
    IncentivePlanUpdated,
    IncentiveTier,
    PayoutApproved,
    PayoutCalculated,
    PayoutLine,
    PayoutPaid,
    PayoutRevised,
    PayoutState,
)
from kam_shared.money import CENT

HUNDRED = Decimal(100)
FREQUENCIES = ("month", "quarter", "year")


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _check_bands(bands: list, name: str, *, floor: Decimal) -> None:
    previous_end: Decimal | None = floor
    for index, band in enumerate(bands, start=1):
        if band.from_percent < floor:
            raise ValidationProblem(f"{name} {index} starts at {band.from_percent}%, below {floor}%", field=name)
        if band.to_percent is not None and band.to_percent <= band.from_percent:
            raise ValidationProblem(f"{name} {index} goes backwards: it ends at {band.to_percent}% before it starts "
                                    f"at {band.from_percent}%", field=name)
        if previous_end is None:
            raise ValidationProblem(f"{name} {index} follows an open-ended {name[:-1]}; only the last may be "
                                    "open-ended", field=name)
        if index > 1 and band.from_percent < previous_end:
            raise ValidationProblem(f"{name} {index} ({band.from_percent}%–) overlaps or comes before {name[:-1]} "
                                    f"{index - 1}, which ends at {previous_end}%", field=name)
        previous_end = band.to_percent


@dataclass(frozen=True)
class Terms:
    base_rate_percent: Decimal
    tiers: tuple[IncentiveTier, ...] = ()
    accelerators: tuple[IncentiveAccelerator, ...] = ()
    cap_amount: Decimal | None = None

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.base_rate_percent <= HUNDRED:
            raise ValidationProblem("base_rate_percent must be within 0..100", field="base_rate_percent")
        if any(t.rate_percent > HUNDRED for t in self.tiers):
            raise ValidationProblem("a tier's rate_percent must be within 0..100", field="tiers")
        _check_bands(list(self.tiers), "tiers", floor=Decimal(0))
        _check_bands(list(self.accelerators), "accelerators", floor=HUNDRED)
        if self.cap_amount is not None and self.cap_amount < 0:
            raise ValidationProblem("cap_amount cannot be negative", field="cap_amount")

    def _tier_at(self, pct: Decimal) -> tuple[int | None, Decimal]:
        for index, tier in enumerate(self.tiers, start=1):
            if tier.from_percent <= pct and (tier.to_percent is None or pct < tier.to_percent):
                return index, tier.rate_percent
        return None, self.base_rate_percent

    def _accelerator_at(self, pct: Decimal) -> tuple[int | None, Decimal]:
        for index, acc in enumerate(self.accelerators, start=1):
            if acc.from_percent <= pct and (acc.to_percent is None or pct < acc.to_percent):
                return index, acc.multiplier
        return None, Decimal(1)

    def breakpoints(self) -> list[Decimal]:
        points = {Decimal(0)}
        for band in (*self.tiers, *self.accelerators):
            points.add(band.from_percent)
            if band.to_percent is not None:
                points.add(band.to_percent)
        return sorted(points)


@dataclass(frozen=True)
class Statement:
    quota: Decimal
    attained: Decimal
    attainment_percent: Decimal
    lines: list[PayoutLine]
    gross: Decimal
    amount: Decimal  # after the cap
    capped: bool


def statement(terms: Terms, quota: Decimal, attained: Decimal) -> Statement:
    """What a person earns for `attained` revenue against `quota`, band by band."""
    if quota <= 0:
        raise ValidationProblem("a payout needs a positive quota to measure attainment against", field="quota")
    attained = max(Decimal(attained), Decimal(0))
    reached = attained * HUNDRED / quota  # attainment in percent, unrounded
    points = [p for p in terms.breakpoints() if p < reached] + [reached]
    lines: list[PayoutLine] = []
    for start, end in zip(points, points[1:], strict=False):
        tier_no, rate = terms._tier_at(start)
        acc_no, multiplier = terms._accelerator_at(start)
        revenue = quota * (end - start) / HUNDRED
        source = f"tier {tier_no}" if tier_no else "base rate"
        if acc_no:
            source += f" × accelerator {acc_no}"
        if lines and lines[-1].source == source and lines[-1].rate_percent == rate \
                and lines[-1].multiplier == multiplier:
            # Same rule on both sides of a breakpoint: one line.
            prev = lines.pop()
            start, revenue = prev.from_percent, Decimal(prev.revenue) + revenue
        lines.append(PayoutLine(from_percent=Decimal(start).quantize(CENT), to_percent=Decimal(end).quantize(CENT),
                                revenue=_money(revenue), rate_percent=rate, multiplier=multiplier,
                                amount=_money(revenue * rate / HUNDRED * multiplier), source=source))
    gross = sum((Decimal(line.amount) for line in lines), Decimal("0.00"))
    amount = min(gross, terms.cap_amount) if terms.cap_amount is not None else gross
    return Statement(quota=_money(quota), attained=_money(attained), attainment_percent=reached.quantize(CENT),
                     lines=lines, gross=gross, amount=_money(amount), capped=amount < gross)


# ------------------------------------------------------------------------------------ plans


@dataclass
class IncentivePlan:
    id: uuid.UUID
    name: str
    currency: str
    fiscal_year: str
    payout_frequency: str
    terms: Terms
    participant_ids: list[uuid.UUID]
    status: str = "draft"
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def draft(cls, *, name: str, currency: str, fiscal_year: str, payout_frequency: str, terms: Terms,
              participant_ids: list[uuid.UUID], by: uuid.UUID) -> "IncentivePlan":
        plan = cls(id=uuid.uuid4(), name=_name(name), currency=currency, fiscal_year=fiscal_year,
                   payout_frequency=_frequency(payout_frequency), terms=terms,
                   participant_ids=list(dict.fromkeys(participant_ids)))
        plan.events.append(DomainEvent("kam.team.incentive_plan_created.v1", plan.id, plan.version,
                                       IncentivePlanCreated(plan=plan.state(), created_by=by)))
        return plan

    def state(self) -> IncentivePlanState:
        t = self.terms
        return IncentivePlanState(id=self.id, name=self.name, currency=self.currency, fiscal_year=self.fiscal_year,
                                  payout_frequency=self.payout_frequency, base_rate_percent=t.base_rate_percent,
                                  tiers=list(t.tiers), accelerators=list(t.accelerators), cap_amount=t.cap_amount,
                                  participant_ids=list(self.participant_ids), status=self.status,
                                  version=self.version)

    def change(self, by: uuid.UUID, **fields) -> dict:
        if self.status != "draft":
            raise Conflict(f"an {self.status} plan cannot change; draft a new plan", field="status")
        before = self.state().model_dump(mode="json")
        for name, value in fields.items():
            if name == "name":
                self.name = _name(value)
            elif name == "payout_frequency":
                self.payout_frequency = _frequency(value)
            elif name == "participant_ids":
                self.participant_ids = list(dict.fromkeys(value))
            else:
                setattr(self, name, value)
        after = self.state().model_dump(mode="json")
        changes = {k: (before[k], after[k]) for k in after if k != "version" and before[k] != after[k]}
        if changes:
            self._updated(changes, by)
        return changes

    def _updated(self, changes: dict, by: uuid.UUID) -> None:
        self.version += 1
        self.events.append(DomainEvent("kam.team.incentive_plan_updated.v1", self.id, self.version,
                                       IncentivePlanUpdated(plan=self.state(), changed_by=by, changes={
                                           k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()})))

    def analysed(self, period: str, committed: Decimal, expected: Decimal, best_case: Decimal,
                 by: uuid.UUID) -> None:
        """The expected cost was analysed: part of the plan's record (approval needs it)."""
        self.version += 1
        self.events.append(DomainEvent("kam.team.incentive_cost_analysed.v1", self.id, self.version,
                                       IncentiveCostAnalysed(plan=self.state(), period=period,
                                                             committed_cost=committed, expected_cost=expected,
                                                             best_case_cost=best_case, analysed_by=by)))

    def approve(self, by: uuid.UUID, *, analysed_version: int | None, expected_cost: Decimal | None,
                period: str | None) -> None:
        """Approval comes after an expected-cost analysis of exactly this version, and never from
        someone the plan pays."""
        if self.status != "draft":
            raise Conflict(f"the plan is already {self.status}", field="status")
        if by in self.participant_ids:
            raise Forbidden("you take part in this plan; someone else must approve it")
        if analysed_version != self.version:
            raise Conflict("run the expected-cost analysis on this version of the plan before approving it "
                           "(POST /v1/incentive-plans/{id}/expected-cost)", field="expected_cost")
        self.status = "approved"
        self.version += 1
        self.events.append(DomainEvent("kam.team.incentive_plan_approved.v1", self.id, self.version,
                                       IncentivePlanApproved(plan=self.state(), approved_by=by,
                                                             expected_cost=expected_cost, period=period)))

    def retire(self, by: uuid.UUID) -> None:
        if self.status == "retired":
            return
        before = self.status
        self.status = "retired"
        self._updated({"status": (before, "retired")}, by)


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationProblem("name must not be blank", field="name")
    return name


def _frequency(value: str) -> str:
    if value not in FREQUENCIES:
        raise ValidationProblem(f"payout_frequency must be one of {', '.join(FREQUENCIES)}", field="payout_frequency")
    return value


# ---------------------------------------------------------------------------------- payouts


@dataclass
class Payout:
    id: uuid.UUID
    plan_id: uuid.UUID
    user_id: uuid.UUID
    period: str
    currency: str
    quota: Decimal
    attained: Decimal
    attainment_percent: Decimal
    gross: Decimal
    adjustment: Decimal
    amount: Decimal
    paid: Decimal
    status: str
    revision: int
    lines: list[PayoutLine]
    version: int = 1
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    history: list[tuple[str, str | None, uuid.UUID | None]] = field(default_factory=list, repr=False)

    @classmethod
    def calculate(cls, *, plan_id: uuid.UUID, user_id: uuid.UUID, period: str, currency: str,
                  result: Statement, by: uuid.UUID | None) -> "Payout":
        payout = cls(id=uuid.uuid4(), plan_id=plan_id, user_id=user_id, period=period, currency=currency,
                     quota=result.quota, attained=result.attained, attainment_percent=result.attainment_percent,
                     gross=result.gross, adjustment=Decimal("0.00"), amount=result.amount, paid=Decimal("0.00"),
                     status="calculated", revision=1, lines=result.lines)
        payout.events.append(DomainEvent("kam.team.payout_calculated.v1", payout.id, payout.version,
                                         PayoutCalculated(payout=payout.state())))
        payout.history.append(("calculated", None, by))
        return payout

    def state(self) -> PayoutState:
        return PayoutState(id=self.id, plan_id=self.plan_id, user_id=self.user_id, period=self.period,
                           currency=self.currency, quota_amount=self.quota, attained_amount=self.attained,
                           attainment_percent=self.attainment_percent, gross_amount=self.gross, amount=self.amount,
                           adjustment=self.adjustment, paid_amount=self.paid, status=self.status,
                           revision=self.revision, lines=list(self.lines), version=self.version)

    def _revise(self, changes: dict, reason: str, by: uuid.UUID | None, action: str) -> None:
        self.revision += 1
        self.status = "calculated"  # a new revision is approved again before it is paid
        self.version += 1
        self.events.append(DomainEvent("kam.team.payout_revised.v1", self.id, self.version, PayoutRevised(
            payout=self.state(), reason=reason, revised_by=by,
            changes={k: FieldChange(before=b, after=a) for k, (b, a) in changes.items()})))
        self.history.append((action, reason, by))

    def recalculate(self, result: Statement, by: uuid.UUID | None) -> bool:
        """Late wins, a revised quota: a new revision when the figures moved; history keeps the old."""
        if (result.quota, result.attained, result.gross, result.amount) == (self.quota, self.attained, self.gross,
                                                                             _money(self.amount - self.adjustment)):
            return False
        before = {"quota_amount": str(self.quota), "attained_amount": str(self.attained), "amount": str(self.amount)}
        self.quota, self.attained, self.attainment_percent = result.quota, result.attained, result.attainment_percent
        self.gross, self.lines = result.gross, result.lines
        self.amount = max(Decimal("0.00"), _money(result.amount + self.adjustment))
        after = {"quota_amount": str(self.quota), "attained_amount": str(self.attained), "amount": str(self.amount)}
        self._revise({k: (before[k], after[k]) for k in after if before[k] != after[k]},
                     "recalculated from current attainment", by, "recalculated")
        return True

    def adjust(self, adjustment: Decimal, reason: str, by: uuid.UUID, *, capped_amount: Decimal) -> None:
        """A manual correction on top of the calculated (capped) amount, with a reason."""
        reason = " ".join((reason or "").split())
        if not reason:
            raise ValidationProblem("an adjustment needs a reason", field="reason")
        amount = _money(capped_amount + adjustment)
        if amount < 0:
            raise ValidationProblem(f"the adjustment would make the payout negative ({amount})", field="adjustment")
        before = (self.adjustment, self.amount)
        self.adjustment, self.amount = _money(adjustment), amount
        self._revise({"adjustment": (str(before[0]), str(self.adjustment)), "amount": (str(before[1]), str(amount))},
                     reason, by, "adjusted")

    def approve(self, by: uuid.UUID, *, approver_is_above: bool, approver_is_admin: bool) -> None:
        if by == self.user_id:
            raise Forbidden("you cannot approve your own payout")
        if not (approver_is_above or approver_is_admin):
            raise Forbidden("only someone above the payee, or an admin, can approve a payout")
        if self.status != "calculated":
            raise Conflict(f"the payout is {self.status}; only a calculated payout is approved", field="status")
        self.status = "approved"
        self.version += 1
        self.events.append(DomainEvent("kam.team.payout_approved.v1", self.id, self.version,
                                       PayoutApproved(payout=self.state(), approved_by=by)))
        self.history.append(("approved", None, by))

    def pay(self, by: uuid.UUID) -> Decimal:
        """Pays what is owed on the approved revision (a negative amount claws back an overpayment)."""
        if self.status != "approved":
            raise Conflict(f"the payout is {self.status}; approve it before paying", field="status")
        paid_now = _money(self.amount - self.paid)
        self.paid = self.amount
        self.status = "paid"
        self.version += 1
        self.events.append(DomainEvent("kam.team.payout_paid.v1", self.id, self.version,
                                       PayoutPaid(payout=self.state(), paid_by=by, paid_now=paid_now)))
        self.history.append(("paid", None, by))
        return paid_now
