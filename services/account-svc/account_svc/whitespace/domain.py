"""Whitespace (白地分析): what each unit of a customer group (group → subsidiaries → branches) buys
from us, product family by family, and where it buys nothing what comparable accounts (same
industry and tier) buy. Pure: no I/O, no clock.

A cell is `won` when the unit won an opportunity with a line in the family, else `open` when it has
an open one, else `none`. For `none` the estimate is opportunity-sized: the median amount of the
family's lines in the won opportunities of comparable accounts that bought it, with the share of
comparable accounts that did.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

WON, OPEN, NONE = "won", "open", "none"


def median_cents(values: Iterable[int]) -> int:
    """The median, in whole cents (the mean of the middle two when even, half up)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of nothing")
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return int((Decimal(ordered[mid - 1] + ordered[mid]) / 2).quantize(Decimal(1), ROUND_HALF_UP))


@dataclass(frozen=True)
class Purchase:
    """One won opportunity's lines in a family, of a comparable account."""
    account_id: uuid.UUID
    currency: str
    cents: int


@dataclass(frozen=True)
class FamilyFigures:
    buyers: int
    estimates: tuple[dict, ...]  # {currency, median_cents, won_opportunities}, by currency


def family_figures(purchases: Iterable[Purchase]) -> FamilyFigures:
    """What comparable accounts bought in one family: distinct buyers, and per currency the median
    won amount and how many won opportunities it is the median of."""
    by_currency: dict[str, list[int]] = {}
    buyers: set[uuid.UUID] = set()
    for p in purchases:
        buyers.add(p.account_id)
        by_currency.setdefault(p.currency, []).append(p.cents)
    estimates = tuple(dict(currency=c, median_cents=median_cents(v), won_opportunities=len(v))
                      for c, v in sorted(by_currency.items()))
    return FamilyFigures(len(buyers), estimates)


@dataclass(frozen=True)
class Unit:
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str | None
    industry: str | None
    tier: str | None
    restricted: bool = False  # outside the caller's scope: its place in the tree only


@dataclass
class Holding:
    won: int = 0
    open: int = 0


@dataclass(frozen=True)
class Comparables:
    """For one (industry, tier): how many live accounts, and the figures per family."""
    accounts: int
    families: Mapping[str, FamilyFigures] = field(default_factory=dict)


def tree_order(root_id: uuid.UUID, units: Iterable[Unit]) -> list[tuple[Unit, int]]:
    """The units depth first from the root (children by name), each with its depth (root 0)."""
    by_id = {u.id: u for u in units}
    children: dict[uuid.UUID, list[Unit]] = {}
    for u in by_id.values():
        if u.id != root_id and u.parent_id in by_id:
            children.setdefault(u.parent_id, []).append(u)
    out: list[tuple[Unit, int]] = []
    stack = [(by_id[root_id], 0)]
    seen: set[uuid.UUID] = set()
    while stack:
        unit, depth = stack.pop()
        if unit.id in seen:
            continue
        seen.add(unit.id)
        out.append((unit, depth))
        kids = sorted(children.get(unit.id, []), key=lambda k: (k.name or "", str(k.id)))
        stack.extend((k, depth + 1) for k in reversed(kids))
    return out


def _comparable(unit: Unit, family: str, comparables: Mapping[tuple[str, str], Comparables]) -> dict | None:
    if not unit.industry or not unit.tier:
        return None
    segment = comparables.get((unit.industry, unit.tier), Comparables(0))
    figures = segment.families.get(family, FamilyFigures(0, ()))
    share = round(figures.buyers / segment.accounts, 4) if segment.accounts else 0.0
    return dict(industry=unit.industry, tier=unit.tier, accounts=segment.accounts, buyers=figures.buyers,
                share=share, estimates=[dict(currency=e["currency"], amount_cents=e["median_cents"],
                                             won_opportunities=e["won_opportunities"]) for e in figures.estimates])


def cell(unit: Unit, family: str, holding: Holding | None,
         comparables: Mapping[tuple[str, str], Comparables], cache: dict | None = None) -> dict:
    """One unit × family: won / open / none, and for none what comparable accounts buy (null when the
    unit has no industry or tier to compare by). `cache` shares one comparable per (industry, tier,
    family) among the units of a tree."""
    holding = holding or Holding()
    status = WON if holding.won else OPEN if holding.open else NONE
    comparable = None
    if status == NONE:
        key = (unit.industry, unit.tier, family)
        if cache is None or key not in cache:
            comparable = _comparable(unit, family, comparables)
            if cache is not None:
                cache[key] = comparable
        else:
            comparable = cache[key]
    return dict(family=family, status=status, won_opportunities=holding.won, open_opportunities=holding.open,
                comparable=comparable)


def whitespace(root_id: uuid.UUID, units: Iterable[Unit], families: Iterable[str],
               holdings: Mapping[tuple[uuid.UUID, str], Holding],
               comparables: Mapping[tuple[str, str], Comparables]) -> list[dict]:
    """Every unit of the tree (depth first) with a cell per family; a unit outside the caller's scope
    shows its place in the tree and no cells. Cells of one (industry, tier, family) share their
    `comparable` object (the same figures)."""
    families = sorted(set(families))
    rows = []
    cache: dict = {}
    for unit, depth in tree_order(root_id, units):
        cells = [] if unit.restricted else [cell(unit, f, holdings.get((unit.id, f)), comparables, cache)
                                            for f in families]
        rows.append(dict(id=unit.id, parent_id=unit.parent_id, depth=depth, restricted=unit.restricted,
                         name=None if unit.restricted else unit.name,
                         industry=None if unit.restricted else unit.industry,
                         tier=None if unit.restricted else unit.tier, cells=cells))
    return rows


def family_amounts(lines: Iterable) -> dict[str, int]:
    """Cents per family of an opportunity's lines (`family`, `amount_cents` pairs); lines without a
    family (events from before the catalogue) count for none."""
    out: dict[str, int] = {}
    for family, cents in lines:
        if family:
            out[family] = out.get(family, 0) + cents
    return out
