"""Roll-up arithmetic: grouped opportunity figures → the numbers a manager reads. Pure."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kam_shared.money import CENT, from_cents

from ...categories.domain import CATEGORIES, effective_category

OPEN_STAGES = range(1, 8)


@dataclass(frozen=True)
class Group:
    """One cell row: status, stage, confirmation, override, count, cents, Σ cents × probability."""
    status: str
    stage: int
    count: int
    amount_cents: int
    weighted_cents_x100: int
    confirmed: bool = False
    category_override: str | None = None


@dataclass
class CategoryFigures:
    category: str
    count: int = 0
    amount: Decimal = Decimal("0.00")


@dataclass
class StageFigures:
    stage: int
    count: int = 0
    amount: Decimal = Decimal("0.00")
    weighted_amount: Decimal = Decimal("0.00")


@dataclass
class Rollup:
    stages: list[StageFigures] = field(default_factory=lambda: [StageFigures(s) for s in OPEN_STAGES])
    open_count: int = 0
    open_amount: Decimal = Decimal("0.00")
    weighted_amount: Decimal = Decimal("0.00")
    won_count: int = 0
    won_amount: Decimal = Decimal("0.00")
    lost_count: int = 0
    lost_amount: Decimal = Decimal("0.00")
    categories: list[CategoryFigures] = field(default_factory=lambda: [CategoryFigures(c) for c in CATEGORIES])


def weighted(cents_x_probability: int) -> Decimal:
    """Σ(cents × probability%) → money, rounded once at the end so totals stay exact."""
    return (Decimal(int(cents_x_probability)) / 10000).quantize(CENT)


def apportion(parts_x100: list[int]) -> tuple[list[Decimal], Decimal]:
    """Each part's Σ(cents × probability%) and their total as money, rounded so that the parts
    add up to the total exactly: the total is rounded once (half-even, as `weighted`), each part
    is floored to the cent, and the cents left over go to the parts with the largest remainders
    (largest-remainder apportionment; ties to the lower stage). Rounding each part on its own
    could make the stages sum to a cent off the total."""
    total = weighted(sum(parts_x100))
    floors = [x // 100 for x in parts_x100]  # whole cents (x is cents × 100)
    left_over = int(total * 100) - sum(floors)
    by_remainder = sorted(range(len(parts_x100)), key=lambda i: (-(parts_x100[i] % 100), i))
    for i in by_remainder[:left_over]:
        floors[i] += 1
    return [from_cents(c) for c in floors], total


def rollup_from_groups(groups: list[Group], mapping: dict[int, str] | None = None,
                       confirmed_only: bool = False) -> Rollup:
    """The figures of a set of cells; with `confirmed_only`, of the confirmed opportunities only
    (what a submitted forecast may count)."""
    result = Rollup()
    stage_weighted = [0] * len(result.stages)  # Σ cents × probability per stage, rounded once at the end
    by_category = {c.category: c for c in result.categories}
    for g in groups:
        if confirmed_only and not g.confirmed:
            continue
        figures = by_category[effective_category(g.status, g.stage, g.category_override, mapping or {})]
        figures.count += g.count
        figures.amount += from_cents(g.amount_cents)
        if g.status == "open":
            figures = result.stages[g.stage - 1]
            figures.count += g.count
            figures.amount += from_cents(g.amount_cents)
            stage_weighted[g.stage - 1] += g.weighted_cents_x100
            result.open_count += g.count
            result.open_amount += from_cents(g.amount_cents)
        elif g.status == "won":
            result.won_count += g.count
            result.won_amount += from_cents(g.amount_cents)
        elif g.status == "lost":
            result.lost_count += g.count
            result.lost_amount += from_cents(g.amount_cents)
    parts, result.weighted_amount = apportion(stage_weighted)
    for figures, part in zip(result.stages, parts, strict=True):
        figures.weighted_amount = part
    return result
