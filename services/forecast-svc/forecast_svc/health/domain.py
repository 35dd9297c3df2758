"""Funnel health (销售漏斗健康度) and quota attainment: the rules, pure (no I/O).

Funnel health compares each open stage's current pipeline with the stage's norm for the team
and period: over 100% excellent, 70–100% good (watch it), under 70% warning. A norm is set by
hand or derived from daily stage snapshots of past periods. Attainment compares closed-won and
the live forecast with the quota.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from kam_shared.domain_errors import ValidationProblem
from kam_shared.money import CENT, from_cents

from ..periods.domain import Period, month_start

OPEN_STAGES = range(1, 8)
PERCENT_STEP = Decimal("0.1")
COUNT_STEP = Decimal("0.01")

# ------------------------------------------------------------------------------------ ratings

EXCELLENT, GOOD, WARNING = "excellent", "good", "warning"
_RANK = {WARNING: 0, GOOD: 1, EXCELLENT: 2}


def ratio_percent(current: Decimal | int, norm: Decimal | None) -> Decimal | None:
    """current / norm in percent, one decimal; None when there is no norm or it is zero."""
    if norm is None or norm == 0:
        return None
    return (Decimal(current) * 100 / Decimal(norm)).quantize(PERCENT_STEP, rounding=ROUND_HALF_UP)


def rating(ratio: Decimal | None) -> str | None:
    """Rated on the ratio as shown (one decimal), so a page never shows 70.0% beside 'warning'."""
    if ratio is None:
        return None
    if ratio > 100:
        return EXCELLENT
    if ratio >= 70:
        return GOOD
    return WARNING


def worse(*ratings: str | None) -> str | None:
    """The worst of the given ratings; None when none is given."""
    given = [r for r in ratings if r is not None]
    return min(given, key=_RANK.__getitem__) if given else None


@dataclass(frozen=True)
class StageNorm:
    stage: int
    count: Decimal  # two decimals: a derived norm is an average
    amount: Decimal


@dataclass(frozen=True)
class Health:
    """One stage (or the whole funnel): current pipeline beside its norm."""
    count: int
    amount: Decimal
    norm_count: Decimal | None = None
    norm_amount: Decimal | None = None

    @property
    def ratio_by_count(self) -> Decimal | None:
        return ratio_percent(self.count, self.norm_count)

    @property
    def ratio_by_amount(self) -> Decimal | None:
        return ratio_percent(self.amount, self.norm_amount)

    @property
    def rating_by_count(self) -> str | None:
        return rating(self.ratio_by_count)

    @property
    def rating_by_amount(self) -> str | None:
        return rating(self.ratio_by_amount)

    @property
    def rating(self) -> str | None:
        """Healthy only as far as both measures are: the worse of the two."""
        return worse(self.rating_by_count, self.rating_by_amount)


def funnel_health(current: Iterable[tuple[int, int, Decimal]],
                  norms: dict[int, StageNorm] | None) -> tuple[dict[int, Health], Health]:
    """Each open stage's (stage, count, amount) against its norm, and the whole funnel.

    The whole funnel sums the stages that have a norm (a stage without one cannot be judged, and
    counting its pipeline against nothing would flatter the ratio)."""
    norms = norms or {}
    stages = {stage: _stage_health(count, amount, norms.get(stage)) for stage, count, amount in current}
    judged = [s for stage, s in stages.items() if stage in norms]
    if not judged:
        return stages, Health(sum(s.count for s in stages.values()), _total(s.amount for s in stages.values()))
    return stages, Health(sum(s.count for s in judged), _total(s.amount for s in judged),
                          _total(s.norm_count for s in judged), _total(s.norm_amount for s in judged))


def _stage_health(count: int, amount: Decimal, norm: StageNorm | None) -> Health:
    return Health(count, amount, norm.count if norm else None, norm.amount if norm else None)


def _total(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal("0.00"))


# -------------------------------------------------------------------------------------- norms

_NORM_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:kam:forecast:funnel-norm")


def norm_id_for(node: uuid.UUID, start: dt.date, end: dt.date, currency: str) -> uuid.UUID:
    """One norm per node, period (by its dates, whatever label named it) and currency."""
    return uuid.uuid5(_NORM_NAMESPACE, f"{node}|{start.isoformat()}|{end.isoformat()}|{currency}")


def validate_norm_stages(stages: list[tuple[int, Decimal, Decimal]]) -> dict[int, StageNorm]:
    """A hand-set norm: at least one open stage, each at most once; stages left out have no norm."""
    if not stages:
        raise ValidationProblem("give a norm for at least one stage (1..7)", field="stages")
    numbers = [s for s, _, _ in stages]
    twice = sorted({s for s in numbers if numbers.count(s) > 1})
    if twice:
        raise ValidationProblem(f"stages {twice} appear more than once", field="stages")
    return {s: StageNorm(s, Decimal(c).quantize(COUNT_STEP, rounding=ROUND_HALF_UP), Decimal(a).quantize(CENT))
            for s, c, a in sorted(stages)}


# How many past periods a derived norm averages by default: a year of quarters or of... years.
DEFAULT_LOOKBACK = {"month": 3, "quarter": 4, "fiscal_quarter": 4, "year": 1, "fiscal_year": 1}
MAX_BASIS_PERIODS = 12


def previous_period_labels(period: Period, count: int | None = None) -> list[str]:
    """The `count` periods of the same kind just before `period`, most recent first, by label
    arithmetic (2026-Q1 → 2025-Q4; FY2026-Q1 → FY2025-Q4), so no calendar is needed here."""
    count = DEFAULT_LOOKBACK[period.kind] if count is None else count
    label = period.label
    if period.kind == "month":
        index = period.start.year * 12 + period.start.month - 1
        return [f"{(index - k) // 12:04d}-{(index - k) % 12 + 1:02d}" for k in range(1, count + 1)]
    if period.kind in ("quarter", "fiscal_quarter"):
        prefix = "FY" if period.kind == "fiscal_quarter" else ""
        m = re.fullmatch(r"(?:FY)?(\d{4})-Q([1-4])", label)
        index = int(m[1]) * 4 + int(m[2]) - 1
        return [f"{prefix}{(index - k) // 4:04d}-Q{(index - k) % 4 + 1}" for k in range(1, count + 1)]
    prefix = "FY" if period.kind == "fiscal_year" else ""
    year = int(label.removeprefix("FY"))
    return [f"{prefix}{year - k:04d}" for k in range(1, count + 1)]


def check_basis_periods(target: Period, basis: list[Period]) -> None:
    """Past periods a norm may be derived from: as long as the target, over before it starts, each once."""
    if not basis:
        raise ValidationProblem("name at least one past period", field="from_periods")
    if len(basis) > MAX_BASIS_PERIODS:
        raise ValidationProblem(f"at most {MAX_BASIS_PERIODS} periods", field="from_periods")
    seen: set[tuple[dt.date, dt.date]] = set()
    for p in basis:
        if (p.start, p.end) in seen:
            raise ValidationProblem(f"{p.label} is named twice", field="from_periods")
        seen.add((p.start, p.end))
        if len(p.months) != len(target.months):
            raise ValidationProblem(f"{p.label} is {len(p.months)} month(s) long; {target.label} is "
                                    f"{len(target.months)}: pipeline of periods of different lengths does not "
                                    "compare", field="from_periods")
        if p.end > target.start:
            raise ValidationProblem(f"{p.label} does not end before {target.label} starts; a norm comes from "
                                    "past periods", field="from_periods")


@dataclass(frozen=True)
class PeriodSample:
    """What the snapshots say about one past period: on how many snapshot days inside it, and the
    sums over those days of the open pipeline (count, cents) closing in it, per stage."""
    period: str
    snapshot_days: int
    totals: dict[int, tuple[int, int]]


def derive_stage_norms(samples: list[PeriodSample]) -> dict[int, StageNorm]:
    """Per stage: the average over the periods of the mean daily open pipeline. Periods without a
    snapshot day are left out (they say nothing); if none is left there is nothing to derive from."""
    used = [s for s in samples if s.snapshot_days > 0]
    if not used:
        names = ", ".join(s.period for s in samples)
        raise ValidationProblem(f"no daily stage snapshots were taken inside {names}; set the norm by hand or "
                                "name periods with snapshots", field="from_periods")
    norms = {}
    for stage in OPEN_STAGES:
        count = sum((Decimal(s.totals.get(stage, (0, 0))[0]) / s.snapshot_days for s in used), Decimal(0))
        cents = sum((Decimal(s.totals.get(stage, (0, 0))[1]) / s.snapshot_days for s in used), Decimal(0))
        norms[stage] = StageNorm(stage, (count / len(used)).quantize(COUNT_STEP, rounding=ROUND_HALF_UP),
                                 from_cents(int((cents / len(used)).quantize(Decimal(1), rounding=ROUND_HALF_UP))))
    return norms


# -------------------------------------------------------------------------------- snapshots


def snapshot_months(day: dt.date) -> tuple[dt.date, dt.date]:
    """Close months worth keeping in a day's snapshot, [first, end). A snapshot row serves a norm
    only if one period holds both its day and its close month; periods are at most 12 months, so
    months more than 11 away from the day's can never be used."""
    return month_start(day.year, day.month - 11), month_start(day.year, day.month + 12)


def seconds_until_next_day(now: dt.datetime, after_midnight_s: int = 60) -> float:
    """From `now` (UTC) until shortly after the next UTC midnight, when the next day's snapshot is due."""
    tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return (tomorrow - now).total_seconds() + after_midnight_s


# ------------------------------------------------------------------------------- attainment

_STATUS_ORDER = ("draft", "submitted", "approved")


@dataclass(frozen=True)
class Quota:
    id: uuid.UUID
    owner_kind: str  # user | org_unit
    owner_id: uuid.UUID
    period: str
    currency: str
    amount: Decimal  # the current revision's target
    approved_amount: Decimal | None  # the last approved revision's target
    status: str
    revision: int

    @property
    def target(self) -> Decimal:
        """What attainment is measured against: the approved target once there is one."""
        return self.approved_amount if self.approved_amount is not None else self.amount


@dataclass(frozen=True)
class QuotaTarget:
    amount: Decimal
    status: str  # the least advanced status of the quotas summed
    quotas: tuple[Quota, ...]


def quota_targets(quotas: Iterable[Quota]) -> dict[str, QuotaTarget]:
    """A person's target per currency from the quotas they answer for in one period.

    Won and forecast figures cover the person's whole subtree, so the team quotas they are
    responsible for (org units they manage, summed when several) are the right measure; a
    personal (user) quota counts only when they answer for no team quota in that currency."""
    by_currency: dict[str, list[Quota]] = {}
    for q in quotas:
        by_currency.setdefault(q.currency, []).append(q)
    targets = {}
    for currency, in_currency in by_currency.items():
        chosen = [q for q in in_currency if q.owner_kind == "org_unit"] or in_currency
        chosen.sort(key=lambda q: (q.owner_kind, str(q.id)))
        targets[currency] = QuotaTarget(sum((q.target for q in chosen), Decimal("0.00")),
                                        min((q.status for q in chosen), key=_STATUS_ORDER.index), tuple(chosen))
    return targets


@dataclass(frozen=True)
class Attainment:
    quota: Decimal | None
    quota_status: str | None
    won: Decimal
    forecast_commit: Decimal
    forecast_best_case: Decimal

    @property
    def gap(self) -> Decimal | None:
        """Still to win; negative once the quota is exceeded."""
        return self.quota - self.won if self.quota is not None else None

    @property
    def attainment_pct(self) -> Decimal | None:
        return ratio_percent(self.won, self.quota)

    @property
    def forecast_attainment_pct(self) -> Decimal | None:
        return ratio_percent(self.forecast_commit, self.quota)


def attainment(target: QuotaTarget | None, won: Decimal, categories: dict[str, Decimal]) -> Attainment:
    """`categories`: confirmed opportunities' amount per forecast category. The forecast a manager
    commits to is closed + commit; best case adds best_case."""
    commit = categories.get("closed", Decimal("0.00")) + categories.get("commit", Decimal("0.00"))
    return Attainment(target.amount if target else None, target.status if target else None, won, commit,
                      commit + categories.get("best_case", Decimal("0.00")))


# --------------------------------------------------------------- stage snapshots from the history

SnapshotKey = tuple  # (owner_id, month, currency, stage)


def _open_key(owner, close_date, currency, stage, status) -> SnapshotKey | None:
    if status != "open":
        return None
    return (owner, close_date.replace(day=1), currency, stage)


def snapshots_from_history(now: dict[SnapshotKey, list[int]], changes_newest_first: list[tuple],
                           days: list[tuple[dt.date, dt.datetime]]) -> dict[dt.date, list[tuple]]:
    """Each day's snapshot (the open pipeline at the day's instant, per owner, close month, currency
    and stage) computed backwards from today's: `now` maps a key to [count, cents]; each change is
    (valid_from, new (owner, close_date, currency, stage, status, cents), prev (the same, or None)),
    newest first; `days` are (day, instant). A day's snapshot is today's less every change after
    its instant. Returns, per day, the rows (owner, month, currency, stage, count, cents) within
    `snapshot_months(day)`."""
    counters = {k: list(v) for k, v in now.items()}
    out: dict[dt.date, list[tuple]] = {}
    i = 0
    for day, instant in sorted(days, reverse=True):
        while i < len(changes_newest_first) and changes_newest_first[i][0] > instant:
            _, new, prev = changes_newest_first[i]
            for state, sign in ((new, -1), (prev, 1)):
                key = _open_key(*state[:5]) if state is not None else None
                if key is not None:
                    cell = counters.setdefault(key, [0, 0])
                    cell[0] += sign
                    cell[1] += sign * state[5]
            i += 1
        first, end = snapshot_months(day)
        out[day] = [(*k, v[0], v[1]) for k, v in counters.items() if v[0] and first <= k[1] < end]
    return out
