"""The predicted outcome of a period, and its backtest. Pure: no clock (`now` is an argument), no I/O.

Method (README, "Predicted outcome"):
- From the closed history, per open stage s: the opportunities that reached s (a won one reached
  every stage; a lost one the stages up to the highest it was in), how many of them were won
  (conversion p = won / closed), and for the won ones the days from first entering s (or the first
  stage above s it entered, when it skipped s) to the close.
- The history used is the node's own subtree when it holds at least MIN_SAMPLE closed
  opportunities that reached s, else its superior's subtree, and so on up the chain; then the
  whole organisation; with no closed history at all, the stage model's probability.
- An open opportunity closing in the period, in stage s for `age` days, counts amount × p × f,
  where f (timing) is the share of the won sample still open at that age (days ≥ age) that closed
  within the days left in the period (days ≤ age + horizon): an opportunity whose typical
  remaining time in the funnel overshoots the period's end is discounted. No timing evidence
  (no won sample, or none as old as it): f = 1.
- Range (90%): expected ± 1.645 σ, σ² = Σ amount² q (1 − q) (each outcome a Bernoulli of
  q = p f) + Σ_stage (Σ amount f)² p (1 − p) / n (the binomial error of each stage's conversion
  from its sample of n); clamped to [won so far, won so far + open amount].
"""
from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

MIN_SAMPLE = 20
Z90 = Decimal("1.645")
OPEN_STAGES = tuple(range(1, 8))


# ---------------------------------------------------------------------- journeys
def new_journey(state: dict) -> dict:
    """A journey row for an opportunity first seen in `state` (id, owner_id, currency, amount_cents,
    close_date, status, stage, version, created_at, stage_entered_at): what the state itself says."""
    row = {**state, "max_stage": 1, "closed_at": None, **{f"entered_{s}": None for s in OPEN_STAGES}}
    row["entered_1"] = state["created_at"]
    if state["status"] == "open" and state["stage"] in OPEN_STAGES:
        _enter(row, state["stage"], state["stage_entered_at"])
    elif state["status"] != "open":
        row["closed_at"] = state["stage_entered_at"]
    return row


def _enter(row: dict, stage: int, at: dt.datetime) -> None:
    key = f"entered_{stage}"
    if row[key] is None or at < row[key]:
        row[key] = at
    row["max_stage"] = max(row["max_stage"], stage)


def apply_step(row: dict, kind: str, from_stage: int | None, to_stage: int, at: dt.datetime) -> dict:
    """One entry of the stage history (created, advanced, skipped_forward, moved_back, won, lost,
    reopened) applied to a journey; the same whether it comes from an event or from opportunity-svc's
    stage history (a rebuild), so both give the same row."""
    row = dict(row)
    if kind in ("won", "lost"):
        if from_stage in OPEN_STAGES:
            row["max_stage"] = max(row["max_stage"], from_stage)
        row["closed_at"] = at
    elif to_stage in OPEN_STAGES:
        _enter(row, to_stage, at)
        if kind == "reopened":
            row["closed_at"] = None
    return row


def with_state(row: dict, state: dict) -> dict:
    """The journey with the opportunity's current fields (owner, amount, close date, status, ...)."""
    return {**row, **{k: state[k] for k in ("owner_id", "currency", "amount_cents", "close_date", "status",
                                            "stage", "version", "updated_at", "stage_entered_at")}}


def closed_signature(row: dict | None) -> tuple | None:
    """What the closed history takes from a journey (None while it is open)."""
    if row is None or row["status"] == "open":
        return None
    return (row["owner_id"], row["status"], row["closed_at"], row["max_stage"],
            *[row[f"entered_{s}"] for s in OPEN_STAGES])


# ---------------------------------------------------------------------- the closed history
@dataclass
class StageSample:
    closed: int = 0
    won: int = 0
    days: Counter = field(default_factory=Counter)  # days to close of the won, counted

    def add(self, other: StageSample) -> None:
        self.closed += other.closed
        self.won += other.won
        self.days.update(other.days)


@dataclass
class StageHistory:
    """One stage's sample as the method uses it: counts and the won's sorted days to close."""
    closed: int
    won: int
    durations: list[int]

    @property
    def median_days(self) -> float | None:
        if not self.durations:
            return None
        n = len(self.durations)
        return float(self.durations[n // 2]) if n % 2 else (self.durations[n // 2 - 1] + self.durations[n // 2]) / 2


def reached(row: dict, stage: int) -> bool:
    return row["status"] == "won" or stage <= row["max_stage"]


def days_to_close(row: dict, stage: int) -> int:
    """Days from first entering `stage` (or the first stage above it entered) to the close."""
    entries = [row[f"entered_{s}"] for s in OPEN_STAGES if s >= stage and row[f"entered_{s}"] is not None]
    start = min(entries) if entries else row["closed_at"]
    return max(0, (row["closed_at"].date() - start.date()).days)


def closed_by(row: dict, cutoff: dt.datetime | None) -> bool:
    """Closed, and (for a backtest) closed at or before the cutoff."""
    if row["status"] == "open" or row["closed_at"] is None:
        return False
    return cutoff is None or row["closed_at"] <= cutoff


def owner_samples(rows, cutoff: dt.datetime | None = None) -> dict:
    """{owner: {stage: StageSample}} from the journeys closed by the cutoff (None: all closed)."""
    out: dict = {}
    for row in rows:
        if not closed_by(row, cutoff):
            continue
        stages = out.setdefault(row["owner_id"], {})
        for s in OPEN_STAGES:
            if not reached(row, s):
                continue
            sample = stages.setdefault(s, StageSample())
            sample.closed += 1
            if row["status"] == "won":
                sample.won += 1
                sample.days[days_to_close(row, s)] += 1
    return out


def merged(samples_by_owner: dict, owners) -> dict[int, StageHistory]:
    """The owners' samples summed per stage."""
    total = {s: StageSample() for s in OPEN_STAGES}
    for owner in owners:
        for s, sample in samples_by_owner.get(owner, {}).items():
            total[s].add(sample)
    return {s: StageHistory(t.closed, t.won, sorted(t.days.elements())) for s, t in total.items()}


@dataclass(frozen=True)
class Conversion:
    stage: int
    probability: Decimal  # 0..1
    source: str  # node | org | stage_model
    source_node: object | None
    sample_size: int
    won_in_sample: int
    history: StageHistory | None


def choose_conversion(stage: int, levels: list[tuple[object, dict[int, StageHistory]]],
                      org: dict[int, StageHistory], stage_model: dict[int, int]) -> Conversion:
    """The first level up the chain (node first) with at least MIN_SAMPLE closed that reached the
    stage; else the organisation's history; else the stage model's probability."""
    for node, history in levels:
        h = history[stage]
        if h.closed >= MIN_SAMPLE:
            return Conversion(stage, Decimal(h.won) / h.closed, "node", node, h.closed, h.won, h)
    h = org[stage]
    if h.closed:
        return Conversion(stage, Decimal(h.won) / h.closed, "org", None, h.closed, h.won, h)
    return Conversion(stage, Decimal(stage_model.get(stage, 0)) / 100, "stage_model", None, 0, 0, None)


def timing_factor(durations: list[int], age_days: int, horizon_days: int) -> Decimal:
    """Of the won sample still open at this age, the share that closed within the days left."""
    if not durations:
        return Decimal(1)
    still_open = len(durations) - bisect.bisect_left(durations, age_days)
    if still_open == 0:
        return Decimal(1)
    in_time = bisect.bisect_right(durations, age_days + max(horizon_days, 0)) - bisect.bisect_left(durations, age_days)
    return Decimal(in_time) / still_open


# ---------------------------------------------------------------------- the prediction
@dataclass(frozen=True)
class OpenGroup:
    """Open opportunities closing in the period, in one stage, of one age in that stage (days)."""
    stage: int
    age_days: int
    count: int
    amount_cents: int
    amount_sq_cents: int  # Σ amount² (cents²), for the range


@dataclass
class StagePrediction:
    stage: int
    count: int
    open_cents: int
    conversion: Conversion
    timing_factor: Decimal  # amount-weighted over the stage's opportunities
    expected_cents: Decimal


@dataclass
class Prediction:
    won_cents: int
    open_count: int
    open_cents: int
    expected_cents: int
    low_cents: int
    high_cents: int
    stages: list[StagePrediction]


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def predict(groups: list[OpenGroup], won_cents: int, conversions: dict[int, Conversion],
            horizon_days: int) -> Prediction:
    """The expected won amount of the period: won so far + Σ amount × conversion × timing, with its
    90% range (module docstring)."""
    stages, variance = [], Decimal(0)
    for s in OPEN_STAGES:
        mine = [g for g in groups if g.stage == s]
        conv = conversions[s]
        p = conv.probability
        durations = conv.history.durations if conv.history else []
        expected = timed = Decimal(0)
        for g in mine:
            f = timing_factor(durations, g.age_days, horizon_days)
            q = p * f
            expected += g.amount_cents * q
            timed += g.amount_cents * f
            variance += Decimal(g.amount_sq_cents) * q * (1 - q)
        if conv.sample_size:
            variance += timed * timed * p * (1 - p) / conv.sample_size
        open_cents = sum(g.amount_cents for g in mine)
        stages.append(StagePrediction(s, sum(g.count for g in mine), open_cents, conv,
                                      (timed / open_cents) if open_cents else Decimal(1), expected))
    open_cents = sum(st.open_cents for st in stages)
    expected = won_cents + sum((st.expected_cents for st in stages), Decimal(0))
    spread = Z90 * Decimal(math.sqrt(variance)) if variance > 0 else Decimal(0)
    low = max(Decimal(won_cents), expected - spread)
    high = min(Decimal(won_cents + open_cents), expected + spread)
    return Prediction(won_cents, sum(st.count for st in stages), open_cents, _cents(expected), _cents(low),
                      _cents(high), stages)


def age_days(entered: dt.date, today: dt.date) -> int:
    """Whole calendar days (UTC) in the stage; the same count the SQL groups by."""
    return max(0, (today - entered).days)


def horizon_days(period_end: dt.date, now: dt.datetime) -> int:
    """Days left in the period (its end is exclusive), counting today."""
    return max(0, (period_end - now.date()).days)


# ---------------------------------------------------------------------- the backtest
def stage_at(row: dict, t: dt.datetime) -> int | None:
    """The open stage the opportunity was in at `t` (None if it did not exist or was closed then):
    the highest stage it had entered by then (a move back after its first entry is not kept)."""
    if row["created_at"] > t or (row["closed_at"] is not None and row["closed_at"] <= t):
        return None
    if row["status"] == "open" and row["closed_at"] is None and row["stage"] in OPEN_STAGES \
            and row["stage_entered_at"] <= t:
        return row["stage"]
    entered = [s for s in OPEN_STAGES if row[f"entered_{s}"] is not None and row[f"entered_{s}"] <= t]
    return max(entered) if entered else 1


def _entered_at(row: dict, stage: int, t: dt.datetime) -> dt.datetime:
    if row["status"] == "open" and row["stage"] == stage and row["stage_entered_at"] <= t:
        return row["stage_entered_at"]
    return row[f"entered_{stage}"] or row["created_at"]


def open_groups_at(rows, t: dt.datetime, start: dt.date, end: dt.date, currency: str) -> list[OpenGroup]:
    """The open pipeline closing in [start, end) as it stood at `t`, grouped by stage and age."""
    acc: dict[tuple[int, int], list[int]] = {}
    for row in rows:
        if row["currency"] != currency or not start <= row["close_date"] < end:
            continue
        s = stage_at(row, t)
        if s is None:
            continue
        cell = acc.setdefault((s, age_days(_entered_at(row, s, t).date(), t.date())), [0, 0, 0])
        cell[0] += 1
        cell[1] += row["amount_cents"]
        cell[2] += row["amount_cents"] * row["amount_cents"]
    return [OpenGroup(s, a, *v) for (s, a), v in sorted(acc.items())]


def won_by(rows, t: dt.datetime | None, start: dt.date, end: dt.date, currency: str) -> int:
    return sum(r["amount_cents"] for r in rows if r["status"] == "won" and r["currency"] == currency
               and start <= r["close_date"] < end and (t is None or (r["closed_at"] and r["closed_at"] <= t)))


def ape_pct(predicted: int | None, actual: int) -> Decimal | None:
    """Absolute percentage error; undefined (None) when nothing was won or nothing was predicted."""
    if predicted is None or actual <= 0:
        return None
    return (Decimal(abs(predicted - actual)) * 100 / actual).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def mape_pct(errors: list[Decimal | None]) -> Decimal | None:
    known = [e for e in errors if e is not None]
    if not known:
        return None
    return (sum(known, Decimal(0)) / len(known)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def midpoint(start: dt.date, end: dt.date) -> dt.date:
    return start + (end - start) // 2
