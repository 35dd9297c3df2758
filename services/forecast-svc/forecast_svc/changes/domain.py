"""What changed since an instant: each opportunity's state then and now, classified, and the
waterfall of open, weighted, commit and won amounts from the figure then to today's. Pure.

An opportunity counts in a roll-up when its owner is in the node's subtree, its currency is the
roll-up's and its close date is in the period (`in scope`). Comparing its state at `since` (the
one its first later event replaced; none if it did not exist) with today's gives one kind:

- in scope then and now: `won`, `lost`, `reopened` (status changed), else `moved_forward` or
  `moved_back` (stage), else `amount_changed`, else `other` (probability, category, close date
  inside the period);
- in scope now only: `created` (did not exist), `pulled_in` (closed outside the period before),
  `transferred_in` (another owner or currency before);
- in scope then only: `slipped` (now closes after the period), `pulled_out` (before it),
  `transferred_out` (another owner or currency now).

Each kind is one step of the waterfall, in the order of KINDS; the steps add up exactly to the
difference between the two ends (weighted amounts are rounded cumulatively, once per step).
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from kam_shared.domain_errors import ValidationProblem

from ..categories.domain import effective_category
from ..rollups.domain.rollup import Group, Rollup, rollup_from_groups, weighted

KINDS = ("created", "pulled_in", "transferred_in", "reopened", "moved_forward", "moved_back", "amount_changed",
         "other", "won", "lost", "slipped", "pulled_out", "transferred_out")
FIELDS = ("owner_id", "stage", "probability", "amount_cents", "currency", "close_date", "status",
          "category_override")


@dataclass(slots=True)  # not frozen: a frozen dataclass is built ~3x slower, and a quarter has 10k+ of them
class State:
    """An opportunity's roll-up-relevant state at one instant."""
    owner_id: uuid.UUID
    stage: int
    probability: int
    amount_cents: int
    currency: str
    close_date: dt.date
    status: str
    category_override: str | None = None


@dataclass(frozen=True)
class Scope:
    """The roll-up compared: a currency and the period's close dates [start, end)."""
    currency: str
    start: dt.date
    end: dt.date


@dataclass(slots=True)
class Change:
    """One opportunity's state at `since` (None: it did not exist) and today, and whether each
    state's owner was in the node's subtree."""
    opportunity_id: uuid.UUID
    before: State | None
    before_in_tree: bool
    after: State
    after_in_tree: bool
    changed_at: dt.datetime | None = None


@dataclass(slots=True)
class Effect:
    """What a change moved: open count and cents, Σ cents × probability, commit and won cents."""
    open_count: int = 0
    open_cents: int = 0
    weighted_x100: int = 0
    commit_cents: int = 0
    won_count: int = 0
    won_cents: int = 0

    def add(self, other: Effect, sign: int = 1) -> None:
        self.open_count += sign * other.open_count
        self.open_cents += sign * other.open_cents
        self.weighted_x100 += sign * other.weighted_x100
        self.commit_cents += sign * other.commit_cents
        self.won_count += sign * other.won_count
        self.won_cents += sign * other.won_cents


@dataclass
class Classified:
    change: Change
    kind: str
    effect: Effect
    changed_fields: list[str] = field(default_factory=list)


def parse_since(text: str, now: dt.datetime) -> dt.datetime:
    """`since` as a UTC instant: a date is its midnight (UTC), a datetime without a zone is UTC."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationProblem(f"since {text!r} is not an ISO 8601 date or date-time", field="since") from None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def check_since(since: dt.datetime, now: dt.datetime, limit: dt.datetime | None) -> None:
    """`since` must lie in the retained history: not before its `limit`, not after `now`."""
    if since > now:
        raise ValidationProblem(f"since {since.isoformat()} is in the future; the latest is now, {now.isoformat()}",
                                field="since", limit=now.isoformat())
    if limit is not None and since < limit:
        raise ValidationProblem(f"since {since.isoformat()} is before the retained history, which starts at "
                                f"{limit.isoformat()}", field="since", limit=limit.isoformat())


def in_scope(state: State | None, in_tree: bool, scope: Scope) -> bool:
    return (state is not None and in_tree and state.currency == scope.currency
            and scope.start <= state.close_date < scope.end)


def contribution(state: State | None, counted: bool, mapping: dict[int, str]) -> Effect:
    """What one state adds to the roll-up's open, weighted, commit and won figures."""
    if state is None or not counted:
        return Effect()
    commit = state.amount_cents if effective_category(
        state.status, state.stage, state.category_override, mapping) == "commit" else 0
    if state.status == "open":
        return Effect(1, state.amount_cents, state.amount_cents * state.probability, commit)
    if state.status == "won":
        return Effect(commit_cents=commit, won_count=1, won_cents=state.amount_cents)
    return Effect(commit_cents=commit)


def _kind_both(before: State, after: State) -> str:
    if before.status != after.status:
        return {"won": "won", "lost": "lost"}.get(after.status, "reopened")
    if after.status == "open" and after.stage != before.stage:
        return "moved_forward" if after.stage > before.stage else "moved_back"
    if after.amount_cents != before.amount_cents:
        return "amount_changed"
    return "other"


def kind_of(change: Change, scope: Scope) -> str | None:
    """The change's kind (see the module docstring); None when it is in scope at neither end or
    nothing roll-up-relevant changed."""
    before, after = change.before, change.after
    was = in_scope(before, change.before_in_tree, scope)
    now = in_scope(after, change.after_in_tree, scope)
    if was and now:
        return None if before == after else _kind_both(before, after)
    if now:
        if before is None:
            return "created"
        return "pulled_in" if not scope.start <= before.close_date < scope.end else "transferred_in"
    if was:
        if after.close_date >= scope.end:
            return "slipped"
        return "pulled_out" if after.close_date < scope.start else "transferred_out"
    return None


def changed_fields(before: State | None, after: State) -> list[str]:
    if before is None:
        return []
    return [f for f in FIELDS if getattr(before, f) != getattr(after, f)]


def classify(changes: list[Change], scope: Scope, mapping: dict[int, str]) -> list[Classified]:
    """Each change that moved the roll-up (or changed in it), with its kind and effect."""
    out = []
    for change in changes:
        kind = kind_of(change, scope)
        if kind is None:
            continue
        effect = contribution(change.after, in_scope(change.after, change.after_in_tree, scope), mapping)
        effect.add(contribution(change.before, in_scope(change.before, change.before_in_tree, scope), mapping), -1)
        out.append(Classified(change, kind, effect, changed_fields(change.before, change.after)))
    return out


def _key(state: State) -> tuple:
    return (state.status, state.stage, state.category_override or "")


def groups_before(now: dict[tuple, list[int]], changes: list[Change], scope: Scope) -> list[Group]:
    """The roll-up's cells at `since`: today's (status, stage, override) → [count, cents, Σ cents ×
    probability], each change's state today taken out and its state then put back."""
    cells = {k: list(v) for k, v in now.items()}
    for change in changes:
        for state, in_tree, sign in ((change.after, change.after_in_tree, -1), (change.before,
                                                                               change.before_in_tree, 1)):
            if in_scope(state, in_tree, scope):
                cell = cells.setdefault(_key(state), [0, 0, 0])
                cell[0] += sign
                cell[1] += sign * state.amount_cents
                cell[2] += sign * state.amount_cents * state.probability
    return to_groups(cells)


def to_groups(cells: dict[tuple, list[int]]) -> list[Group]:
    return [Group(status=k[0], stage=k[1], category_override=k[2] or None, count=v[0], amount_cents=v[1],
                  weighted_cents_x100=v[2]) for k, v in cells.items()]


def figures(rollup: Rollup) -> dict:
    """The waterfall's end figures of a roll-up."""
    commit = next(c.amount for c in rollup.categories if c.category == "commit")
    return {"open_count": rollup.open_count, "open_amount": rollup.open_amount,
            "weighted_amount": rollup.weighted_amount, "commit_amount": commit,
            "won_count": rollup.won_count, "won_amount": rollup.won_amount}


def _money(cents: int) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(Decimal("0.01"))


def kind_totals(classified: list[Classified]) -> tuple[dict[str, Effect], dict[str, int]]:
    """Per kind: the sum of the effects and how many (what the database sums for the service)."""
    totals = {kind: Effect() for kind in KINDS}
    counts = dict.fromkeys(KINDS, 0)
    for c in classified:
        totals[c.kind].add(c.effect)
        counts[c.kind] += 1
    return totals, counts


def waterfall(start: list[Group], classified: list[Classified], mapping: dict[int, str]) -> list[dict]:
    return steps_of(start, *kind_totals(classified))


def steps_of(start: list[Group], totals: dict[str, Effect], counts: dict[str, int]) -> list[dict]:
    """One step per kind (every kind listed, zero when nothing happened), in KINDS order. Weighted
    steps are differences of the cumulative figure rounded once, so they add up to the ends."""
    raw = sum(g.weighted_cents_x100 for g in start if g.status == "open")
    totals = {kind: totals.get(kind, Effect()) for kind in KINDS}
    counts = {kind: counts.get(kind, 0) for kind in KINDS}
    steps = []
    for kind in KINDS:
        total, count = totals[kind], counts[kind]
        step_weighted = weighted(raw + total.weighted_x100) - weighted(raw)
        raw += total.weighted_x100
        steps.append({"kind": kind, "count": count, "open_count": total.open_count,
                      "open_amount": _money(total.open_cents), "weighted_amount": step_weighted,
                      "commit_amount": _money(total.commit_cents), "won_count": total.won_count,
                      "won_amount": _money(total.won_cents)})
    return steps


def changes_summary(start: list[Group], end: list[Group], totals: dict[str, Effect], counts: dict[str, int],
                    mapping: dict[int, str]) -> dict:
    """The two ends (each exactly the roll-up's figures at that time) and the steps between."""
    return {"start": figures(rollup_from_groups(start, mapping)), "end": figures(rollup_from_groups(end, mapping)),
            "waterfall": steps_of(start, totals, counts)}


def adjusted(now: dict[tuple, list[int]], adjustments: dict[tuple, list[int]]) -> list[Group]:
    """The roll-up's cells at `since`: today's plus the adjustments the database summed (each
    change's state today taken out, its state then put back; see groups_before)."""
    cells = {k: list(v) for k, v in now.items()}
    for key, delta in adjustments.items():
        cell = cells.setdefault(key, [0, 0, 0])
        for i in range(3):
            cell[i] += delta[i]
    return to_groups(cells)


def ordered(classified: list[Classified]) -> list[Classified]:
    """Listed by kind (waterfall order), the largest moves of open or won amount first."""
    rank = {k: i for i, k in enumerate(KINDS)}
    return sorted(classified, key=lambda c: (rank[c.kind], -(abs(c.effect.open_cents) + abs(c.effect.won_cents)),
                                             str(c.change.opportunity_id)))
