"""Forecast submission rules (逐层上报). Pure: no I/O, unit-tested without a database.

A forecast record belongs to one owner, period and currency. Each of its versions holds a whole
`ForecastState`:

* the pre-fill (the *base*): the owner's own confirmed primary-owner opportunities closing in the
  period, by category, plus — for a manager — the latest submitted figures of each direct report;
* the owner's adjustments (修订) per category, on top of the base;
* channel forecasts (渠道预测), shown beside the figures and never added into them.

`figures = base + adjustments`; the forecast amount sums the categories the period's forecast
principles count, the upside sums the upside categories. Amounts are integer cents throughout.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from kam_shared.domain_errors import Conflict, ValidationProblem
from kam_shared.money import from_cents

from ..categories.domain import CATEGORIES

Figures = dict[str, int]  # forecast category → cents

# Owners revise what they expect to happen; `closed` is won business (a fact) and `omitted` is
# by definition out of the forecast, so neither is adjusted.
ADJUSTABLE_CATEGORIES: tuple[str, ...] = ("pipeline", "best_case", "commit")
# What principles may count or show as upside (`omitted` never counts).
PRINCIPLE_CATEGORIES: tuple[str, ...] = ("pipeline", "best_case", "commit", "closed")
DEFAULT_COUNTED: tuple[str, ...] = ("commit", "closed")
DEFAULT_UPSIDE: tuple[str, ...] = ("best_case",)
VERSION_KINDS = ("prefill", "adjustment", "refresh", "submission", "channel", "publication")


def zero() -> Figures:
    return {c: 0 for c in CATEGORIES}


def add(*many: Figures) -> Figures:
    out = zero()
    for figures in many:
        for c in CATEGORIES:
            out[c] += int(figures.get(c, 0))
    return out


# ------------------------------------------------------------------ principles (预测原则)
@dataclass(frozen=True)
class Principles:
    counted: tuple[str, ...] = DEFAULT_COUNTED
    upside: tuple[str, ...] = DEFAULT_UPSIDE

    def forecast_cents(self, figures: Figures) -> int:
        return sum(figures.get(c, 0) for c in self.counted)

    def upside_cents(self, figures: Figures) -> int:
        return sum(figures.get(c, 0) for c in self.upside)


def _check_chosen(name: str, chosen: list[str]) -> None:
    """One list of categories: each known, none twice."""
    unknown = [c for c in chosen if c not in PRINCIPLE_CATEGORIES]
    if unknown:
        raise ValidationProblem(f"{unknown[0]!r} is not a category a forecast can count; use "
                                f"{', '.join(PRINCIPLE_CATEGORIES)}", field=name)
    if len(set(chosen)) != len(chosen):
        raise ValidationProblem("each category may appear once", field=name)


def _canonical(chosen: list[str]) -> tuple[str, ...]:
    return tuple(c for c in PRINCIPLE_CATEGORIES if c in chosen)


def validate_principles(counted: list[str], upside: list[str]) -> Principles:
    """Counted and upside categories: known, no repeats, disjoint (an amount is forecast or upside,
    never both), at least one counted. Kept in the categories' canonical order."""
    for name, chosen in (("counted_categories", counted), ("upside_categories", upside)):
        _check_chosen(name, chosen)
    if not counted:
        raise ValidationProblem("a forecast must count at least one category", field="counted_categories")
    both = [c for c in PRINCIPLE_CATEGORIES if c in counted and c in upside]
    if both:
        raise ValidationProblem(f"{both[0]!r} cannot be both counted and upside", field="upside_categories")
    return Principles(counted=_canonical(counted), upside=_canonical(upside))


def is_late(due_date: dt.date | None, at: dt.datetime) -> bool:
    """Due dates are advisory: a submission after the day is accepted and marked late."""
    return due_date is not None and at.date() > due_date


# ------------------------------------------------------------------ the content of a version
@dataclass(frozen=True)
class Line:
    """One of the owner's own confirmed opportunities in the pre-fill."""
    opportunity_id: uuid.UUID
    account_id: uuid.UUID
    amount_cents: int
    category: str
    stage: int
    status: str
    close_date: dt.date


@dataclass(frozen=True)
class Child:
    """A direct report's submitted version, as taken into the superior's pre-fill."""
    record_id: uuid.UUID
    owner_id: uuid.UUID
    version: int
    submitted_at: dt.datetime
    figures: Figures
    forecast_cents: int
    upside_cents: int


@dataclass(frozen=True)
class ChannelForecast:
    channel: str
    amount_cents: int
    note: str | None
    recorded_by: uuid.UUID
    recorded_at: dt.datetime


@dataclass(frozen=True)
class ForecastState:
    principles: Principles = field(default_factory=Principles)
    lines: tuple[Line, ...] = ()
    children: tuple[Child, ...] = ()
    missing: tuple[uuid.UUID, ...] = ()
    # The live confirmed roll-up of the owner's subtree when the pre-fill was taken: what a manager
    # compares the submitted figures with (reference only, never part of the figures).
    live_rollup: Figures | None = None
    adjustments: Figures = field(default_factory=zero)
    channels: tuple[ChannelForecast, ...] = ()

    @property
    def own(self) -> Figures:
        out = zero()
        for line in self.lines:
            out[line.category] += line.amount_cents
        return out

    @property
    def base(self) -> Figures:
        return add(self.own, *(child.figures for child in self.children))

    @property
    def figures(self) -> Figures:
        return add(self.base, self.adjustments)

    @property
    def forecast_cents(self) -> int:
        return self.principles.forecast_cents(self.figures)

    @property
    def upside_cents(self) -> int:
        return self.principles.upside_cents(self.figures)

    # -------------------------------------------------------------- storage (JSON column)
    def to_json(self) -> dict:
        return {
            "counted": list(self.principles.counted), "upside": list(self.principles.upside),
            "lines": [{"opportunity_id": str(x.opportunity_id), "account_id": str(x.account_id),
                       "amount_cents": x.amount_cents, "category": x.category, "stage": x.stage,
                       "status": x.status, "close_date": x.close_date.isoformat()} for x in self.lines],
            "children": [{"record_id": str(c.record_id), "owner_id": str(c.owner_id), "version": c.version,
                          "submitted_at": c.submitted_at.isoformat(), "figures": dict(c.figures),
                          "forecast_cents": c.forecast_cents, "upside_cents": c.upside_cents}
                         for c in self.children],
            "missing": [str(m) for m in self.missing],
            "live_rollup": dict(self.live_rollup) if self.live_rollup is not None else None,
            "adjustments": {c: v for c, v in self.adjustments.items() if v},
            "channels": [{"channel": ch.channel, "amount_cents": ch.amount_cents, "note": ch.note,
                          "recorded_by": str(ch.recorded_by), "recorded_at": ch.recorded_at.isoformat()}
                         for ch in self.channels],
        }

    @classmethod
    def from_json(cls, data: dict) -> "ForecastState":
        return cls(
            principles=Principles(tuple(data["counted"]), tuple(data["upside"])),
            lines=tuple(Line(uuid.UUID(x["opportunity_id"]), uuid.UUID(x["account_id"]), x["amount_cents"],
                             x["category"], x["stage"], x["status"], dt.date.fromisoformat(x["close_date"]))
                        for x in data["lines"]),
            children=tuple(Child(uuid.UUID(c["record_id"]), uuid.UUID(c["owner_id"]), c["version"],
                                 dt.datetime.fromisoformat(c["submitted_at"]), add(c["figures"]),
                                 c["forecast_cents"], c["upside_cents"]) for c in data["children"]),
            missing=tuple(uuid.UUID(m) for m in data["missing"]),
            live_rollup=add(data["live_rollup"]) if data.get("live_rollup") is not None else None,
            adjustments=add(data.get("adjustments", {})),
            channels=tuple(ChannelForecast(ch["channel"], ch["amount_cents"], ch["note"],
                                           uuid.UUID(ch["recorded_by"]), dt.datetime.fromisoformat(ch["recorded_at"]))
                           for ch in data["channels"]),
        )


def prefill(principles: Principles, lines: list[Line], children: list[Child], missing: list[uuid.UUID],
            live_rollup: Figures | None) -> ForecastState:
    """Version 1 of a record: no adjustments, no channel forecasts yet."""
    return ForecastState(principles=principles, lines=tuple(lines), children=tuple(children),
                         missing=tuple(missing), live_rollup=live_rollup)


@dataclass(frozen=True)
class Adjustment:
    category: str
    before_cents: int
    after_cents: int

    @property
    def delta_cents(self) -> int:
        return self.after_cents - self.before_cents


def adjust(state: ForecastState, principles: Principles, category: str, *, delta_cents: int | None = None,
           new_amount_cents: int | None = None) -> tuple[ForecastState, Adjustment]:
    """The owner's revision of one category: by a delta or to a new amount, never below zero."""
    if category not in ADJUSTABLE_CATEGORIES:
        raise ValidationProblem(f"adjust one of {', '.join(ADJUSTABLE_CATEGORIES)}; closed is won business and "
                                "omitted is never forecast", field="category")
    if (delta_cents is None) == (new_amount_cents is None):
        raise ValidationProblem("give either amount_delta or amount (the category's new amount)",
                                field="amount_delta")
    before = state.figures[category]
    after = before + delta_cents if delta_cents is not None else new_amount_cents
    field_name = "amount_delta" if delta_cents is not None else "amount"
    if after < 0:
        raise ValidationProblem(f"{category} is {from_cents(before)}; it cannot go below zero "
                                f"(to {from_cents(after)})", field=field_name)
    if after == before:
        raise ValidationProblem(f"{category} is already {from_cents(before)}: the adjustment changes nothing",
                                field=field_name)
    adjustments = dict(state.adjustments)
    adjustments[category] = adjustments.get(category, 0) + (after - before)
    return replace(state, principles=principles, adjustments=adjustments), Adjustment(category, before, after)


def refresh(state: ForecastState, fresh: ForecastState) -> tuple[ForecastState, Figures]:
    """A new pre-fill (`fresh`, no adjustments) under the owner's kept adjustments and channels.
    Where an adjustment would now take a category below zero it is trimmed to stop at zero; the
    trimmed part is returned so the version can say so."""
    base = fresh.base
    adjustments, trimmed = dict(state.adjustments), {}
    for category, cents in state.adjustments.items():
        if base[category] + cents < 0:
            trimmed[category] = -(base[category] + cents)
            adjustments[category] = -base[category]
    return replace(fresh, adjustments=add(adjustments), channels=state.channels), trimmed


def normalise_channel(name: str) -> str:
    return " ".join(name.split())


def record_channel(state: ForecastState, principles: Principles, channel: ChannelForecast) -> ForecastState:
    """A channel's forecast (one figure per channel, matched case-insensitively): recording a channel
    again replaces its figure in the current view; the earlier one stays in the version history."""
    key = normalise_channel(channel.channel).casefold()
    if not key:
        raise ValidationProblem("channel must not be blank", field="channel")
    kept = tuple(ch for ch in state.channels if ch.channel.casefold() != key)
    return replace(state, principles=principles,
                   channels=kept + (replace(channel, channel=normalise_channel(channel.channel)),))


# ------------------------------------------------------------------ who may do what, and when
def ensure_open(status: str, published_by_record: uuid.UUID | None, record_id: uuid.UUID, period: str,
                currency: str) -> None:
    """Nothing changes on a published record, nor on any record below a published one (same period
    and currency): the business unit's final forecast is out, the period is locked."""
    if status == "published":
        raise Conflict(f"this record's forecast for {period} ({currency}) is published; the period is locked",
                       field="period")
    if published_by_record is not None and published_by_record != record_id:
        raise Conflict(f"the forecast for {period} ({currency}) was published above you (record "
                       f"{published_by_record}); the period is locked", field="period",
                       published_record_id=str(published_by_record))


def ensure_can_submit(superior_id: uuid.UUID | None) -> None:
    if superior_id is None:
        raise Conflict("you have no superior to submit to: you are the top of your chain (the business unit); "
                       "record channel forecasts and publish instead", field="submitted_to")


def ensure_top_of_chain(superior_id: uuid.UUID | None, action: str) -> None:
    if superior_id is not None:
        raise Conflict(f"only the business unit (the top of a reporting chain) may {action}; this record's "
                       f"owner reports to {superior_id} and submits instead", field="owner_id")


# ------------------------------------------------------------------ accuracy
PCT = Decimal("0.01")


def accuracy_pct(forecast_cents: int, actual_cents: int) -> Decimal:
    """100 × (1 − |forecast − actual| / max(forecast, actual)): 100 when they match, 0 when one of
    them is zero and the other not; symmetric, so over- and under-forecasting weigh the same."""
    larger = max(forecast_cents, actual_cents)
    if larger == 0:
        return Decimal("100.00")
    ratio = Decimal(abs(forecast_cents - actual_cents)) / Decimal(larger)
    return (100 * (1 - ratio)).quantize(PCT, rounding=ROUND_HALF_UP)


def subtree_totals(superior_of: dict[uuid.UUID, uuid.UUID | None], own: dict[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    """Each person's own amount plus everyone's below them, for the people of one subtree
    (`superior_of` maps each of them to their superior). Cycles in the data count once."""
    children: dict[uuid.UUID, list[uuid.UUID]] = {}
    for person, superior in superior_of.items():
        if superior is not None and superior in superior_of:
            children.setdefault(superior, []).append(person)
    totals: dict[uuid.UUID, int] = {}
    for person in superior_of:
        seen, stack, total = set(), [person], 0
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            total += own.get(current, 0)
            stack.extend(children.get(current, ()))
        totals[person] = total
    return totals
