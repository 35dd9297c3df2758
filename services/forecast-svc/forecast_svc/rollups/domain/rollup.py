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


def rollup_from_groups(groups: list[Group], mapping: dict[int, str] | None = None,
                       confirmed_only: bool = False) -> Rollup:
    """The figures of a set of cells; with `confirmed_only`, of the confirmed opportunities only
    (what a submitted forecast may count)."""
    result = Rollup()
    open_weighted = 0
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
            figures.weighted_amount = weighted(
                int(figures.weighted_amount * 10000) + g.weighted_cents_x100)
            result.open_count += g.count
            result.open_amount += from_cents(g.amount_cents)
            open_weighted += g.weighted_cents_x100
        elif g.status == "won":
            result.won_count += g.count
            result.won_amount += from_cents(g.amount_cents)
        elif g.status == "lost":
            result.lost_count += g.count
            result.lost_amount += from_cents(g.amount_cents)
    result.weighted_amount = weighted(open_weighted)
    return result
