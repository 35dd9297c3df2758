"""Exchange-rate rules, pure: which rate is in force, and converting cents exactly.

A rate is in force from its effective date (always the first day of a month) until the pair's
next effective date. Roll-up cells sum opportunities per close month, so one rate applies to a
whole cell: converting a cell is the same as converting each of its opportunities at the rate in
force on its close date (up to the one rounding per cell, half-even to the cent)."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from kam_shared.domain_errors import ValidationProblem

MAX_RATE = Decimal("1000000000")


def validate_rates(entries: list[dict]) -> list[dict]:
    """Entries of a PUT: a positive rate, a month's first day, a pair of two currencies, and one
    entry per pair and effective date. Anything else is a 422 naming the entry's field."""
    seen: set[tuple] = set()
    for i, e in enumerate(entries):
        if e["from_currency"] == e["to_currency"]:
            raise ValidationProblem("a rate converts between two different currencies", field=f"{i}.to")
        if not Decimal(0) < e["rate"] < MAX_RATE:
            raise ValidationProblem("rate must be greater than 0 (and below 1e9)", field=f"{i}.rate")
        if e["effective_date"].day != 1:
            raise ValidationProblem("effective_date must be the first day of a month (rates are monthly)",
                                    field=f"{i}.effective_date")
        key = (e["from_currency"], e["to_currency"], e["effective_date"])
        if key in seen:
            raise ValidationProblem(f"{key[0]}→{key[1]} has effective_date {key[2]} twice in the body",
                                    field=f"{i}.effective_date")
        seen.add(key)
    return entries


def rate_in_force(series: list[tuple[dt.date, Decimal]], day: dt.date) -> tuple[dt.date, Decimal] | None:
    """The (effective_date, rate) in force on `day` from a pair's series sorted by date."""
    found = None
    for effective, rate in series:
        if effective > day:
            break
        found = (effective, rate)
    return found


def pair_series(rows: list[dict], source: str, target: str) -> tuple[list[tuple[dt.date, Decimal]], bool]:
    """The series converting `source` → `target`: the pair's own rates, or else the inverse pair's
    (1 / rate). Second value: True when it is the inverse."""
    direct = sorted((r["effective_date"], Decimal(r["rate"])) for r in rows
                    if r["from_currency"] == source and r["to_currency"] == target)
    if direct:
        return direct, False
    inverse = sorted((r["effective_date"], Decimal(r["rate"])) for r in rows
                     if r["from_currency"] == target and r["to_currency"] == source)
    return inverse, True


def convert_units(units: int, rate: Decimal) -> int:
    """An integer amount (cents, or cents × probability) at a rate, rounded half-even to the unit."""
    return int((Decimal(units) * rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def effective_rate(rate: Decimal, inverse: bool) -> Decimal:
    return (Decimal(1) / rate).quantize(Decimal("0.0000000001")) if inverse else rate


def fiscal_quarter_start(month: dt.date, fiscal_start_month: int) -> dt.date:
    """The first day of the fiscal quarter the month falls in."""
    offset = (month.month - fiscal_start_month) % 3
    index = month.year * 12 + month.month - 1 - offset
    return dt.date(index // 12, index % 12 + 1, 1)


class Converter:
    """Converts a node's cells (one row per close month, currency and key) into one currency.

    `basis` "close_date": each month at the rate in force on its first day, i.e. on every close
    date in it (rates take effect on a month's first day). "fiscal_quarter": each month at the rate
    in force on the first day of its fiscal quarter (a planning rate per fiscal period)."""

    def __init__(self, target: str, rate_rows: list[dict], basis: str = "close_date", fiscal_start_month: int = 1):
        self.target, self.rows, self.basis, self.fiscal_start = target, rate_rows, basis, fiscal_start_month
        self._series: dict[str, tuple[list, bool]] = {}
        self.used: dict[tuple, dict] = {}
        self.missing: set[str] = set()

    def _rate(self, currency: str, month: dt.date) -> tuple[dt.date, Decimal, bool] | None:
        if currency not in self._series:
            self._series[currency] = pair_series(self.rows, currency, self.target)
        series, inverse = self._series[currency]
        day = fiscal_quarter_start(month, self.fiscal_start) if self.basis == "fiscal_quarter" else month
        found = rate_in_force(series, day)
        return None if found is None else (found[0], effective_rate(found[1], inverse), inverse)

    def convert(self, month: dt.date, currency: str, count: int, cents: int, weighted: int
                ) -> tuple[int, int] | None:
        """(cents, Σ cents × probability) in the target currency, or None when no rate is in force."""
        if currency == self.target:
            return cents, weighted
        found = self._rate(currency, month)
        if found is None:
            if count:
                self.missing.add(currency)
            return None
        effective, rate, inverse = found
        if count:
            used = self.used.setdefault((currency, effective, rate, inverse), {
                "from_currency": currency, "to_currency": self.target, "rate": str(rate),
                "effective_date": effective, "inverse": inverse, "months": set(), "cents": 0})
            used["months"].add(month)
            used["cents"] += cents
        return convert_units(cents, rate), convert_units(weighted, rate)

    def rates_used(self) -> list[dict]:
        return [dict(u, months=sorted(u["months"])) for _, u in sorted(self.used.items(), key=lambda kv: (
            kv[0][0], kv[0][1]))]
