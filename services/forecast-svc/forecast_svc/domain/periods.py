"""Forecast periods: a month `2026-11`, a quarter `2026-Q4` or a (calendar) year `2026`."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from kam_shared.errors import ValidationProblem

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    label: str
    kind: str  # month | quarter | year
    start: dt.date  # inclusive
    end: dt.date  # exclusive

    def contains(self, day: dt.date) -> bool:
        return self.start <= day < self.end


def _month_start(year: int, month: int) -> dt.date:
    return dt.date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str) -> Period:
    text = text.strip().upper()
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValidationProblem(f"month {month} is outside 01..12", field="period")
        return Period(f"{year:04d}-{month:02d}", "month", dt.date(year, month, 1), _month_start(year, month + 1))
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        first = 3 * (q - 1) + 1
        return Period(f"{year:04d}-Q{q}", "quarter", dt.date(year, first, 1), _month_start(year, first + 3))
    if m := _YEAR.match(text):
        year = int(m[1])
        return Period(f"{year:04d}", "year", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
    raise ValidationProblem("period must look like 2026-11 (month), 2026-Q4 (quarter) or 2026 (year)",
                            field="period")
