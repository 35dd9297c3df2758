"""Events of team-svc on `kam.team.events`: the sales organisation, its hierarchy, territories,
the fiscal calendar, quotas, incentive plans, payouts and signing keys.

Every payload carries the aggregate's full state after the change (and what changed as
{from, to}), so a consumer keeps an exact replica without calling team-svc back:

* users (`user_*`): `superior_id` is the reporting line. A replica that stores every user's
  `superior_id` answers "is A above B" (walk B's chain) and "who is in B's subtree" (walk down)
  exactly: a move only changes the moved user's edge, and publishes that user's event.
  `kam_shared.hierarchy` does exactly this.
* org units (`org_unit_*`): `parent_id` is the unit tree; `company_id` is the root company.
  When a unit moves to another company, every unit below it gets its own `org_unit_updated`
  with `changes.company_id`.
* territories (`territory_*`): each event carries the territory with ALL its rules, so a
  replica replaces the rules wholesale. `TerritoryRuleBook` below is the one matching
  algorithm: team-svc's `POST /v1/territories/match` and any replica use the same code.
* fiscal calendar: the fiscal-year start month; `FiscalCalendarState` below names the periods.
* quotas, incentive plans, payouts: amounts are decimal strings ("125000.00") with an ISO 4217
  currency; percentages are decimal strings too.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Literal

from pydantic import Field

from ..money import Money
from .base import TOPICS, EventSpec, FieldChange, Payload, register

# ----------------------------------------------------------------------------------- users


class UserState(Payload):
    id: uuid.UUID
    email: str
    name: str
    role: Literal["rep", "manager", "admin"]
    superior_id: uuid.UUID | None
    active: bool = True
    version: int
    org_unit_id: uuid.UUID | None = Field(default=None, description="the org unit the user belongs to")
    title: str | None = Field(default=None, description="job title, e.g. 'Key Account Manager'")


class UserCreated(Payload):
    user: UserState


class UserUpdated(Payload):
    user: UserState
    changes: dict[str, FieldChange] = Field(default_factory=dict)


# ------------------------------------------------------------------------------- org units

OrgUnitKind = Literal["company", "business_unit", "region", "team", "department"]


class OrgUnitState(Payload):
    id: uuid.UUID
    name: str
    kind: OrgUnitKind
    parent_id: uuid.UUID | None
    company_id: uuid.UUID = Field(description="the root company of this unit (itself for a company)")
    manager_id: uuid.UUID | None = None
    active: bool = True
    version: int


class OrgUnitCreated(Payload):
    org_unit: OrgUnitState


class OrgUnitUpdated(Payload):
    org_unit: OrgUnitState
    changes: dict[str, FieldChange] = Field(default_factory=dict)


class OrgUnitMoved(Payload):
    org_unit: OrgUnitState
    from_parent_id: uuid.UUID | None
    to_parent_id: uuid.UUID | None
    changes: dict[str, FieldChange] = Field(default_factory=dict)


# ----------------------------------------------------------------------------- territories

SizeBand = Literal["small", "medium", "large", "enterprise"]
SIZE_BANDS: tuple[str, ...] = ("small", "medium", "large", "enterprise")
# Lower bounds (employees) of each band: small < 100 <= medium < 1,000 <= large < 10,000 <= enterprise.
SIZE_BAND_FLOORS: tuple[tuple[int, str], ...] = ((10_000, "enterprise"), (1_000, "large"), (100, "medium"),
                                                 (0, "small"))


def size_band_for(employees: int | None) -> str | None:
    """The account size band from its number of employees (None when unknown)."""
    if employees is None or employees < 0:
        return None
    return next(band for floor, band in SIZE_BAND_FLOORS if employees >= floor)


def normalise_label(value: str | None) -> str | None:
    """Regions and industries compare case- and whitespace-insensitively ("  North " == "north")."""
    if value is None:
        return None
    text = " ".join(str(value).split()).casefold()
    return text or None


class AccountProfile(Payload):
    """What territory rules look at. `size_band` wins over `employees` when both are given."""
    account_id: uuid.UUID | None = None
    region: str | None = None
    industry: str | None = None
    size_band: SizeBand | None = None
    employees: int | None = Field(default=None, ge=0)

    def band(self) -> str | None:
        return self.size_band or size_band_for(self.employees)


class TerritoryRuleState(Payload):
    """A rule matches an account when EVERY non-empty criterion contains the account's value
    (an empty list means "any"). Among matching rules the lowest `priority` number wins;
    team-svc refuses two equal-priority rules that could both match the same account."""
    id: uuid.UUID
    name: str
    priority: int = Field(ge=1)
    regions: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    size_bands: list[SizeBand] = Field(default_factory=list)
    account_ids: list[uuid.UUID] = Field(default_factory=list, description="named accounts")


class TerritoryState(Payload):
    id: uuid.UUID
    name: str
    parent_id: uuid.UUID | None
    owner_id: uuid.UUID = Field(description="the account manager new accounts of this territory go to")
    org_unit_id: uuid.UUID | None = None
    description: str | None = None
    active: bool = True
    version: int
    rules: list[TerritoryRuleState] = Field(default_factory=list)


class TerritoryCreated(Payload):
    territory: TerritoryState


class TerritoryUpdated(Payload):
    """Any change of the territory or of its rules; `changes` says which ("rules" lists rule ids)."""
    territory: TerritoryState
    changes: dict[str, FieldChange] = Field(default_factory=dict)


@dataclass(frozen=True)
class CriterionCheck:
    criterion: str  # region | industry | size_band | account
    accepted: tuple[str, ...]  # empty: any value
    value: str | None
    ok: bool

    def describe(self) -> str:
        if not self.accepted:
            return f"{self.criterion}: any"
        shown = ", ".join(self.accepted[:5]) + (", …" if len(self.accepted) > 5 else "")
        verb = "in" if self.ok else "not in"
        return f"{self.criterion} {self.value if self.value is not None else '(unknown)'} {verb} [{shown}]"


@dataclass(frozen=True)
class CompiledRule:
    rule: TerritoryRuleState
    territory: TerritoryState
    regions: frozenset[str]
    industries: frozenset[str]
    size_bands: frozenset[str]
    account_ids: frozenset[uuid.UUID]

    @classmethod
    def of(cls, rule: TerritoryRuleState, territory: TerritoryState) -> "CompiledRule":
        return cls(rule, territory, frozenset(filter(None, map(normalise_label, rule.regions))),
                   frozenset(filter(None, map(normalise_label, rule.industries))), frozenset(rule.size_bands),
                   frozenset(rule.account_ids))

    def matches(self, account_id: uuid.UUID | None, region: str | None, industry: str | None,
                band: str | None) -> bool:
        return ((not self.account_ids or account_id in self.account_ids)
                and (not self.regions or region in self.regions)
                and (not self.industries or industry in self.industries)
                and (not self.size_bands or band in self.size_bands))

    def checks(self, profile: AccountProfile) -> list[CriterionCheck]:
        region, industry, band = normalise_label(profile.region), normalise_label(profile.industry), profile.band()
        aid = profile.account_id
        return [
            CriterionCheck("account", tuple(sorted(map(str, self.account_ids))), str(aid) if aid else None,
                           not self.account_ids or aid in self.account_ids),
            CriterionCheck("region", tuple(sorted(self.regions)), region, not self.regions or region in self.regions),
            CriterionCheck("industry", tuple(sorted(self.industries)), industry,
                           not self.industries or industry in self.industries),
            CriterionCheck("size_band", tuple(b for b in SIZE_BANDS if b in self.size_bands), band,
                           not self.size_bands or band in self.size_bands),
        ]


@dataclass(frozen=True)
class TerritoryMatch:
    rule: CompiledRule
    # Rules with a lower priority number that were checked first and did not match.
    passed_over: tuple[CompiledRule, ...]
    ambiguous_with: tuple[CompiledRule, ...] = ()

    @property
    def territory(self) -> TerritoryState:
        return self.rule.territory

    @property
    def owner_id(self) -> uuid.UUID:
        return self.rule.territory.owner_id


class TerritoryRuleBook:
    """Every active rule of every active territory, in evaluation order (priority, then rule id)."""

    def __init__(self, territories: Iterable[TerritoryState]):
        compiled = [CompiledRule.of(rule, t) for t in territories if t.active for rule in t.rules]
        self.rules: list[CompiledRule] = sorted(compiled, key=lambda c: (c.rule.priority, str(c.rule.id)))

    def match(self, profile: AccountProfile) -> TerritoryMatch | None:
        region, industry, band = normalise_label(profile.region), normalise_label(profile.industry), profile.band()
        rules = self.rules
        for index, candidate in enumerate(rules):
            if candidate.matches(profile.account_id, region, industry, band):
                ties = []
                for other in rules[index + 1:]:
                    if other.rule.priority != candidate.rule.priority:
                        break
                    if other.matches(profile.account_id, region, industry, band):
                        ties.append(other)
                return TerritoryMatch(candidate, tuple(rules[:index]), tuple(ties))
        return None


# --------------------------------------------------------------------------- fiscal calendar


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


# The years a period may fall in (team-svc's quotas and forecast-svc's roll-ups alike). Generous for a
# sales plan, and far enough inside date's 1..9999 that a period's end or the same period a year
# earlier or later is always a date: `0000-Q1` or `9999-Q4` is a 422, not an overflow.
PERIOD_YEARS = range(1900, 3000)


def check_period_year(year: int) -> int:
    """The year, or ValueError when a period may not fall in it."""
    if year not in PERIOD_YEARS:
        raise ValueError(f"the year of a period must be within {PERIOD_YEARS.start}..{PERIOD_YEARS.stop - 1}")
    return year


@dataclass(frozen=True)
class FiscalPeriod:
    label: str  # FY2026 | FY2026-Q3 | 2026-11
    kind: Literal["year", "quarter", "month"]
    start: dt.date  # inclusive
    end: dt.date  # exclusive

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end


class FiscalCalendarState(Payload):
    """A fiscal year starts on day 1 of `fiscal_year_start_month` and is named after the calendar
    year it STARTS in: with start month 4, FY2026 runs 2026-04-01 .. 2027-03-31 and FY2026-Q1 is
    April-June 2026. Calendar months (`2026-11`) are periods under every calendar."""
    fiscal_year_start_month: int = Field(ge=1, le=12)
    version: int

    def fiscal_year_of(self, day: dt.date) -> int:
        return day.year if day.month >= self.fiscal_year_start_month else day.year - 1

    def year(self, fiscal_year: int) -> FiscalPeriod:
        start = dt.date(fiscal_year, self.fiscal_year_start_month, 1)
        return FiscalPeriod(f"FY{fiscal_year}", "year", start, _add_months(start, 12))

    def quarter(self, fiscal_year: int, quarter: int) -> FiscalPeriod:
        start = _add_months(dt.date(fiscal_year, self.fiscal_year_start_month, 1), 3 * (quarter - 1))
        return FiscalPeriod(f"FY{fiscal_year}-Q{quarter}", "quarter", start, _add_months(start, 3))

    @staticmethod
    def month(year: int, month: int) -> FiscalPeriod:
        start = dt.date(year, month, 1)
        return FiscalPeriod(f"{year:04d}-{month:02d}", "month", start, _add_months(start, 1))

    def parse(self, label: str) -> FiscalPeriod:
        """FY2026, FY2026-Q3 or 2026-11; ValueError otherwise."""
        text = label.strip().upper()
        if text.startswith("FY") and len(text) == 6 and text[2:].isdigit():
            return self.year(check_period_year(int(text[2:])))
        if (text.startswith("FY") and len(text) == 9 and text[2:6].isdigit() and text[6:8] == "-Q"
                and text[8] in "1234"):
            return self.quarter(check_period_year(int(text[2:6])), int(text[8]))
        if len(text) == 7 and text[:4].isdigit() and text[4] == "-" and text[5:].isdigit() and 1 <= int(text[5:]) <= 12:
            return self.month(check_period_year(int(text[:4])), int(text[5:]))
        raise ValueError(f"period {label!r} must look like FY2026, FY2026-Q3 or 2026-11")

    def shift_years(self, period: FiscalPeriod, years: int) -> FiscalPeriod:
        """The same period `years` fiscal years earlier (negative) or later."""
        if period.kind == "month":
            return self.month(period.start.year + years, period.start.month)
        fy = self.fiscal_year_of(period.start) + years
        return self.year(fy) if period.kind == "year" else self.quarter(fy, int(period.label[-1]))


class FiscalCalendarChanged(Payload):
    calendar: FiscalCalendarState
    changes: dict[str, FieldChange] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------- quotas

QuotaStatus = Literal["draft", "submitted", "approved"]


class QuotaState(Payload):
    id: uuid.UUID
    owner_kind: Literal["user", "org_unit"]
    owner_id: uuid.UUID
    responsible_user_id: uuid.UUID | None = Field(
        description="the person answerable for the quota: the user, or the org unit's manager")
    period: str
    period_start: dt.date
    period_end: dt.date = Field(description="exclusive")
    currency: str
    amount: Money = Field(description="target of the current revision")
    approved_amount: Money | None = Field(default=None, description="target of the last approved revision")
    status: QuotaStatus
    revision: int
    parent_quota_id: uuid.UUID | None = None
    version: int


class QuotaChild(Payload):
    quota_id: uuid.UUID
    owner_kind: Literal["user", "org_unit"]
    owner_id: uuid.UUID
    amount: Money
    weight: Decimal | None = None


class QuotaCreated(Payload):
    quota: QuotaState
    created_by: uuid.UUID | None = None


class QuotaUpdated(Payload):
    """A draft's target changed, or an allocation re-set a child's target."""
    quota: QuotaState
    changes: dict[str, FieldChange] = Field(default_factory=dict)
    changed_by: uuid.UUID | None = None


class QuotaAllocated(Payload):
    """The parent quota was split top-down. `gap` = parent − sum(children); negative is an
    over-allocation, which needs `over_allocation_approved_by`."""
    quota: QuotaState
    method: Literal["even", "weights", "last_year_won", "amounts"]
    children: list[QuotaChild]
    allocated_amount: Money
    gap: Decimal
    over_allocation_approved_by: uuid.UUID | None = None
    over_allocation_reason: str | None = None
    allocated_by: uuid.UUID | None = None


class QuotaSubmitted(Payload):
    quota: QuotaState
    submitted_by: uuid.UUID


class QuotaApproved(Payload):
    quota: QuotaState
    approved_by: uuid.UUID


class QuotaRejected(Payload):
    quota: QuotaState
    rejected_by: uuid.UUID
    reason: str


class QuotaRevised(Payload):
    """An approved quota got a new revision (back to draft until approved again)."""
    quota: QuotaState
    reason: str
    revised_by: uuid.UUID
    changes: dict[str, FieldChange] = Field(default_factory=dict)


# ------------------------------------------------------------------------- incentive plans


class IncentiveTier(Payload):
    """Revenue earned while attainment is within [from_percent, to_percent) is paid `rate_percent`."""
    from_percent: Decimal = Field(ge=0)
    to_percent: Decimal | None = None
    rate_percent: Decimal = Field(ge=0)


class IncentiveAccelerator(Payload):
    """Above 100% attainment: the applicable rate is multiplied within [from_percent, to_percent)."""
    from_percent: Decimal = Field(ge=100)
    to_percent: Decimal | None = None
    multiplier: Decimal = Field(ge=1)


class IncentivePlanState(Payload):
    id: uuid.UUID
    name: str
    currency: str
    fiscal_year: str = Field(description="FY2026: the plan covers this fiscal year's periods")
    payout_frequency: Literal["month", "quarter", "year"]
    base_rate_percent: Decimal
    tiers: list[IncentiveTier] = Field(default_factory=list)
    accelerators: list[IncentiveAccelerator] = Field(default_factory=list)
    cap_amount: Money | None = Field(default=None, description="most a person can earn per payout period")
    participant_ids: list[uuid.UUID] = Field(default_factory=list)
    status: Literal["draft", "approved", "retired"]
    version: int


class IncentivePlanCreated(Payload):
    plan: IncentivePlanState
    created_by: uuid.UUID | None = None


class IncentivePlanUpdated(Payload):
    plan: IncentivePlanState
    changes: dict[str, FieldChange] = Field(default_factory=dict)
    changed_by: uuid.UUID | None = None


class IncentiveCostAnalysed(Payload):
    """Expected cost of the plan for a period from won revenue, forecast and pipeline."""
    plan: IncentivePlanState
    period: str
    expected_cost: Money = Field(description="payout if the weighted pipeline closes as forecast")
    committed_cost: Money = Field(description="payout on revenue already won")
    best_case_cost: Money = Field(description="payout if the whole open pipeline closes")
    analysed_by: uuid.UUID | None = None


class IncentivePlanApproved(Payload):
    plan: IncentivePlanState
    approved_by: uuid.UUID
    expected_cost: Money | None = None
    period: str | None = None


class PayoutLine(Payload):
    """One band of the statement: revenue in [from_percent, to_percent) of attainment."""
    from_percent: Decimal
    to_percent: Decimal
    revenue: Money
    rate_percent: Decimal
    multiplier: Decimal
    amount: Money
    source: str = Field(description="which tier / base rate / accelerator produced this band")


class PayoutState(Payload):
    id: uuid.UUID
    plan_id: uuid.UUID
    user_id: uuid.UUID
    period: str
    currency: str
    quota_amount: Money
    attained_amount: Money
    attainment_percent: Decimal
    gross_amount: Money = Field(description="sum of the lines before the cap")
    amount: Money = Field(description="payable: gross, capped, plus manual adjustment")
    adjustment: Decimal = Decimal("0")
    paid_amount: Money = Decimal("0")
    status: Literal["calculated", "approved", "paid"]
    revision: int
    lines: list[PayoutLine] = Field(default_factory=list)
    version: int


class PayoutCalculated(Payload):
    payout: PayoutState


class PayoutRevised(Payload):
    payout: PayoutState
    reason: str
    revised_by: uuid.UUID | None = None
    changes: dict[str, FieldChange] = Field(default_factory=dict)


class PayoutApproved(Payload):
    payout: PayoutState
    approved_by: uuid.UUID


class PayoutPaid(Payload):
    payout: PayoutState
    paid_by: uuid.UUID
    paid_now: Decimal = Field(description="paid by this event; negative claws back an overpaid earlier revision")


# ----------------------------------------------------------------------------- signing keys


class SigningKeyRotated(Payload):
    """A new key signs tokens from now on; `previous_kid` stays in the JWKS until `previous_valid_until`."""
    kid: str
    previous_kid: str | None = None
    previous_valid_until: dt.datetime | None = None
    version: int


register(
    EventSpec("kam.team.user_created.v1", TOPICS["team"], UserCreated, "A user joined the sales organisation."),
    EventSpec("kam.team.user_updated.v1", TOPICS["team"], UserUpdated,
              "A user's name, role, title, superior (hierarchy move), org unit or active flag changed; carries "
              "the full state and each change as {from, to}."),
    EventSpec("kam.team.org_unit_created.v1", TOPICS["team"], OrgUnitCreated,
              "An org unit (company, business unit, region, team, department) was created."),
    EventSpec("kam.team.org_unit_updated.v1", TOPICS["team"], OrgUnitUpdated,
              "An org unit was renamed, got another manager, was (de)activated, or its company changed because "
              "an ancestor moved."),
    EventSpec("kam.team.org_unit_moved.v1", TOPICS["team"], OrgUnitMoved,
              "An org unit moved under another parent (from_parent_id → to_parent_id)."),
    EventSpec("kam.team.territory_created.v1", TOPICS["team"], TerritoryCreated,
              "A sales territory was created, with its assignment rules in full."),
    EventSpec("kam.team.territory_updated.v1", TOPICS["team"], TerritoryUpdated,
              "A territory or any of its rules changed; carries the territory with ALL its rules."),
    EventSpec("kam.team.fiscal_calendar_changed.v1", TOPICS["team"], FiscalCalendarChanged,
              "The fiscal-year start month changed."),
    EventSpec("kam.team.quota_created.v1", TOPICS["team"], QuotaCreated, "A quota was set (draft)."),
    EventSpec("kam.team.quota_updated.v1", TOPICS["team"], QuotaUpdated, "A draft quota's target changed."),
    EventSpec("kam.team.quota_allocated.v1", TOPICS["team"], QuotaAllocated,
              "A quota was split top-down to its children; carries each child's amount and the gap."),
    EventSpec("kam.team.quota_submitted.v1", TOPICS["team"], QuotaSubmitted, "A quota was submitted for approval."),
    EventSpec("kam.team.quota_approved.v1", TOPICS["team"], QuotaApproved,
              "A quota was approved by someone above its owner."),
    EventSpec("kam.team.quota_rejected.v1", TOPICS["team"], QuotaRejected,
              "A submitted quota was sent back to draft with a reason."),
    EventSpec("kam.team.quota_revised.v1", TOPICS["team"], QuotaRevised,
              "An approved quota got a new revision with a reason (approved_amount stays until re-approved)."),
    EventSpec("kam.team.incentive_plan_created.v1", TOPICS["team"], IncentivePlanCreated,
              "An incentive plan was drafted."),
    EventSpec("kam.team.incentive_plan_updated.v1", TOPICS["team"], IncentivePlanUpdated,
              "A draft incentive plan changed, or a plan was retired."),
    EventSpec("kam.team.incentive_cost_analysed.v1", TOPICS["team"], IncentiveCostAnalysed,
              "The expected cost of a plan for a period was analysed."),
    EventSpec("kam.team.incentive_plan_approved.v1", TOPICS["team"], IncentivePlanApproved,
              "An incentive plan was approved and is communicated to its participants."),
    EventSpec("kam.team.payout_calculated.v1", TOPICS["team"], PayoutCalculated,
              "A payout was calculated for a person and period, with its statement."),
    EventSpec("kam.team.payout_revised.v1", TOPICS["team"], PayoutRevised,
              "A payout was recalculated or adjusted; the previous revision stays in its history."),
    EventSpec("kam.team.payout_approved.v1", TOPICS["team"], PayoutApproved, "A payout was approved."),
    EventSpec("kam.team.payout_paid.v1", TOPICS["team"], PayoutPaid, "A payout (or its unpaid revision) was paid."),
    EventSpec("kam.team.signing_key_rotated.v1", TOPICS["team"], SigningKeyRotated,
              "team-svc signs tokens with a new key; refresh the JWKS (the old key stays until its tokens expire)."),
)
