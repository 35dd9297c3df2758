"""Forecast history (pure): the time line of one node's roll-up for a period.

A point is the roll-up as it stood at the end of a UTC day (the last one: now). It is computed
backwards from today's figures: the state history's rows are deltas (the new state in, the
replaced state out), so the figure at the end of day d is today's minus every delta of the days
after d. One query for all points, whatever their number.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kam_shared.domain_errors import ValidationProblem

from ..rollups.domain.rollup import Group, Rollup, rollup_from_groups

INTERVALS = ("day", "week")
MAX_POINTS_DAYS = 400  # a year's period and its run-up


@dataclass(frozen=True)
class Point:
    day: dt.date  # the day (or the week's last day) the point closes
    at: dt.datetime  # the instant: the next midnight (UTC), or now for today


def midnight_after(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


def check_interval(interval: str) -> str:
    if interval not in INTERVALS:
        raise ValidationProblem(f"interval must be one of {', '.join(INTERVALS)}", field="interval")
    return interval


def points(period_start: dt.date, period_end: dt.date, limit: dt.datetime | None, now: dt.datetime,
           interval: str) -> list[Point]:
    """The ends of each day (or ISO week, Monday to Sunday) from the period's start, or from the
    first day of the retained history if that is later (or if the period has not started), until
    today or the period's last day; the last point of a week that is not over is today."""
    today = now.date()
    first_known = limit.date() if limit is not None else today
    first = max(period_start, first_known) if period_start <= today else first_known
    last = min(today, period_end - dt.timedelta(days=1))
    first = max(first, last - dt.timedelta(days=MAX_POINTS_DAYS))
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if interval == "week":
        days = [d for d in days if d.isoweekday() == 7 or d == last]
    return [Point(d, now if d >= today else midnight_after(d)) for d in days]


Cells = dict[tuple, list[int]]  # (status, stage, override) → [count, cents, Σ cents × probability]


def series(now: Cells, deltas: list[tuple[dt.date, tuple, list[int]]], at: list[Point],
           mapping: dict[int, str]) -> list[tuple[Point, Rollup]]:
    """Each point's roll-up: today's cells less the deltas of the days after the point's day."""
    cells = {k: list(v) for k, v in now.items()}
    later_first = sorted(deltas, key=lambda d: d[0], reverse=True)
    i, out = 0, []
    for point in sorted(at, key=lambda p: p.day, reverse=True):
        while i < len(later_first) and later_first[i][0] > point.day:
            _, key, delta = later_first[i]
            cell = cells.setdefault(key, [0, 0, 0])
            for j in range(3):
                cell[j] -= delta[j]
            i += 1
        out.append((point, rollup_from_groups(_groups(cells), mapping)))
    return out[::-1]


def _groups(cells: Cells) -> list[Group]:
    return [Group(status=k[0], stage=k[1], category_override=k[2] or None, count=v[0], amount_cents=v[1],
                  weighted_cents_x100=v[2]) for k, v in cells.items() if v != [0, 0, 0]]
