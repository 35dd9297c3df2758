"""Forecast periods.

Calendar: a month `2026-11`, a quarter `2026-Q4` or a year `2026`. Fiscal (team-svc's fiscal
calendar, replicated): `FY2026` or `FY2026-Q1`, named after the calendar year the fiscal year
starts in. Every period is a whole number of months, so the monthly roll-up cells serve all of them.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from kam_shared.domain_errors import ValidationProblem
from kam_shared.events.team import check_period_year

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_FISCAL_YEAR = re.compile(r"^FY(\d{4})$")
_FISCAL_QUARTER = re.compile(r"^FY(\d{4})-Q([1-4])$")
FORMATS = "2026-11 (month), 2026-Q4 (quarter), 2026 (year), FY2026-Q1 (fiscal quarter) or FY2026 (fiscal year)"


@dataclass(frozen=True)
class Period:
    label: str
    kind: str  # month | quarter | year | fiscal_quarter | fiscal_year
    start: dt.date  # inclusive
    end: dt.date  # exclusive

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end

    @property
    def months(self) -> list[dt.date]:
        out, day = [], self.start
        while day < self.end:
            out.append(day)
            day = month_start(day.year, day.month + 1)
        return out


def month_start(year: int, month: int) -> dt.date:
    return dt.date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str, fiscal_year_start_month: int = 1) -> Period:
    text = text.strip().upper()
    year = re.match(r"^(?:FY)?(\d{4})", text)
    try:
        if year:
            check_period_year(int(year[1]))
    except ValueError as exc:
        raise ValidationProblem(str(exc), field="period") from None
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValidationProblem(f"month {month} is outside 01..12", field="period")
        return Period(f"{year:04d}-{month:02d}", "month", dt.date(year, month, 1), month_start(year, month + 1))
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        first = 3 * (q - 1) + 1
        return Period(f"{year:04d}-Q{q}", "quarter", dt.date(year, first, 1), month_start(year, first + 3))
    if m := _YEAR.match(text):
        year = int(m[1])
        return Period(f"{year:04d}", "year", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
    if m := _FISCAL_YEAR.match(text):
        start = dt.date(int(m[1]), fiscal_year_start_month, 1)
        return Period(f"FY{m[1]}", "fiscal_year", start, month_start(start.year, start.month + 12))
    if m := _FISCAL_QUARTER.match(text):
        q = int(m[2])
        start = month_start(int(m[1]), fiscal_year_start_month + 3 * (q - 1))
        return Period(f"FY{m[1]}-Q{q}", "fiscal_quarter", start, month_start(start.year, start.month + 3))
    raise ValidationProblem(f"period must look like {FORMATS}", field="period")
