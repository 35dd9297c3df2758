"""Classification (客户分类评估): a tier recommendation scored from value criteria, and the
Pareto view of won revenue (二八法则).

The criteria follow DOMAIN.md: revenue contribution, profit contribution, multi-year continuous
purchasing, strategic significance (with influence on our image, capacity to absorb technology and
growth as flags). Each criterion reports its points and why, so a manager can argue with the
recommendation rather than with a number. Scale alone does not make a key account: without a
known margin of at least KEY_MIN_MARGIN_PCT the recommendation stops at key_development.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from kam_shared.money import from_cents, money_str

REVENUE_WINDOW_YEARS = 3
PARETO_B_UPPER_PCT = Decimal(95)
KEY_MIN_MARGIN_PCT = Decimal(15)
TIER_THRESHOLDS = (("key", 65), ("key_development", 40), ("ordinary", 15), ("deprioritised", 0))
FLAG_POINTS = {"strategic_significance": 10, "image_influence": 5, "technology_absorption": 5,
               "growth_potential": 5}
PCT = Decimal("0.01")


def revenue_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last REVENUE_WINDOW_YEARS calendar years, this one included."""
    return dt.date(today.year - REVENUE_WINDOW_YEARS + 1, 1, 1), dt.date(today.year, 12, 31)


# --- Pareto -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParetoEntry:
    account_id: uuid.UUID
    rank: int
    won_cents: int
    share_pct: Decimal
    cumulative_pct: Decimal
    pareto_class: str  # A: makes up the first `threshold` %, B: up to 95 %, C: the rest


@dataclass(frozen=True)
class Pareto:
    entries: list[ParetoEntry]
    total_cents: int
    threshold_pct: Decimal

    @property
    def top(self) -> list[ParetoEntry]:
        return [e for e in self.entries if e.pareto_class == "A"]

    def class_of(self, account_id: uuid.UUID) -> ParetoEntry | None:
        return next((e for e in self.entries if e.account_id == account_id), None)


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PCT, rounding=ROUND_HALF_UP) if whole else Decimal(0)


def pareto(won_by_account: dict[uuid.UUID, int], threshold_pct: Decimal = Decimal(80)) -> Pareto:
    """Accounts by won revenue, largest first. An account is in the top (class A) while the revenue
    before it is still under the threshold: the one that crosses the line is in, so the top always
    covers at least `threshold_pct` of the total. Ties are broken by id for a stable order."""
    ranked = sorted(((a, c) for a, c in won_by_account.items() if c > 0), key=lambda ac: (-ac[1], str(ac[0])))
    total = sum(c for _, c in ranked)
    entries, before = [], 0
    for rank, (account_id, cents) in enumerate(ranked, start=1):
        before_pct = Decimal(before) * 100 / total
        pareto_class = "A" if before_pct < threshold_pct else "B" if before_pct < PARETO_B_UPPER_PCT else "C"
        before += cents
        entries.append(ParetoEntry(account_id, rank, cents, _pct(cents, total), _pct(before, total), pareto_class))
    return Pareto(entries, total, Decimal(threshold_pct))


# --- tier score ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Criterion:
    name: str
    points: int
    max_points: int
    value: str | None
    explanation: str


@dataclass
class TierRecommendation:
    score: int
    recommended_tier: str
    criteria: list[Criterion]
    caps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TierInputs:
    today: dt.date
    currency: str
    won_cents_by_year: dict[int, int]      # this account, reporting currency, by close-date year
    pareto_entry: ParetoEntry | None       # this account among all accounts, same window
    gross_margin_pct: Decimal | None
    strategic_flags: tuple[str, ...] = ()


def _revenue(inputs: TierInputs) -> Criterion:
    start, end = revenue_window(inputs.today)
    won = sum(c for y, c in inputs.won_cents_by_year.items() if start.year <= y <= end.year)
    amount = f"{money_str(from_cents(won))} {inputs.currency}"
    span = f"{start.year}–{end.year}"
    entry = inputs.pareto_entry
    if not won or entry is None:
        return Criterion("revenue_contribution", 0, 30, amount, f"no won revenue in {span}")
    points = {"A": 30, "B": 18, "C": 6}[entry.pareto_class]
    where = {"A": "among the accounts that make up the first 80% of won revenue",
             "B": "in the next 15% of won revenue", "C": "in the tail (last 5%) of won revenue"}[entry.pareto_class]
    return Criterion("revenue_contribution", points, 30, amount,
                     f"won {amount} in {span}, {entry.share_pct}% of all won revenue, rank {entry.rank}: {where}")


def _profit(inputs: TierInputs) -> Criterion:
    margin = inputs.gross_margin_pct
    if margin is None:
        return Criterion("profit_contribution", 0, 25, None,
                         "gross margin unknown: set gross_margin_pct on the account (opportunity events carry no "
                         "margin yet)")
    for floor, points in ((Decimal(25), 25), (Decimal(15), 18), (Decimal(8), 10), (Decimal(0), 3)):
        if margin >= floor:
            return Criterion("profit_contribution", points, 25, f"{margin}%",
                             f"gross margin {margin}% (≥ {floor}%)")
    return Criterion("profit_contribution", 0, 25, f"{margin}%", f"gross margin {margin}% is negative: a loss maker")


def continuous_years(years_with_revenue: set[int], today: dt.date) -> int:
    """Consecutive years with won revenue, ending this year or (early in a year) last year."""
    end = today.year if today.year in years_with_revenue else today.year - 1
    count = 0
    while end - count in years_with_revenue:
        count += 1
    return count


def _continuity(inputs: TierInputs) -> Criterion:
    years = continuous_years({y for y, c in inputs.won_cents_by_year.items() if c > 0}, inputs.today)
    points = 20 if years >= 3 else 12 if years == 2 else 5 if years == 1 else 0
    text = (f"won business in {years} consecutive year{'s' if years != 1 else ''} up to now" if years
            else "no won business this year or last")
    return Criterion("continuous_purchasing", points, 20, str(years), text)


def _strategic(inputs: TierInputs) -> Criterion:
    flags = [f for f in FLAG_POINTS if f in inputs.strategic_flags]
    points = sum(FLAG_POINTS[f] for f in flags)
    text = ("flags: " + ", ".join(f"{f} (+{FLAG_POINTS[f]})" for f in flags)) if flags else "no strategic flags set"
    return Criterion("strategic_value", points, sum(FLAG_POINTS.values()), ",".join(flags) or None, text)


def recommend_tier(inputs: TierInputs) -> TierRecommendation:
    criteria = [_revenue(inputs), _profit(inputs), _continuity(inputs), _strategic(inputs)]
    score = sum(c.points for c in criteria)
    tier = next(name for name, floor in TIER_THRESHOLDS if score >= floor)
    caps = []
    margin = inputs.gross_margin_pct
    if tier == "key" and (margin is None or margin < KEY_MIN_MARGIN_PCT):
        tier = "key_development"
        caps.append(f"score {score} reaches key, but a key account needs a known gross margin of at least "
                    f"{KEY_MIN_MARGIN_PCT}% (scale alone does not make a key account): capped at key_development")
    return TierRecommendation(score, tier, criteria, caps)
