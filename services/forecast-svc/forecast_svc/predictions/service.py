"""Use cases of the predictions: a node's predicted outcome for a period, the backtest of the
method against past periods, and the rebuild of the journeys from opportunity-svc."""
from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.domain_errors import UpstreamUnavailable
from kam_shared.events import utcnow
from kam_shared.money import from_cents, to_cents, validate_currency
from kam_shared.peers import peer_client

from ..periods.domain import Period, month_start
from ..periods.repository import period_of
from ..rollups.domain.cells import chain_of
from ..rollups.repository import ChainCache, RollupRepository
from ..rollups.service import ensure_node_visible
from ..submission.service import accuracy as submitted_accuracy
from . import domain
from .repository import PredictionRepository

METHOD = ("expected = won so far + Σ open amount × stage-to-win conversion × timing factor; conversion from the "
          f"closed history of the node's subtree when it holds ≥ {domain.MIN_SAMPLE} closed that reached the stage, "
          "else up the hierarchy, else the organisation, else the stage model; timing factor = share of the won "
          "sample still open at the opportunity's age in its stage that closed within the days left in the period; "
          "range = expected ± 1.645 σ (90%), σ from the Bernoulli outcomes and the binomial error of each conversion")
ACCURACY_FORMULA = ("APE = |predicted − actual won| / actual won × 100 per period; MAPE = the mean APE over the "
                    "periods with actual won > 0 (and, for forecasts, a submitted forecast)")
REBUILD_CONCURRENCY = 8
chain_cache = ChainCache()  # per process; reads check the hierarchy's version in their transaction


class HistoryCache:
    """Per process: the closed history's per-owner samples while the history version stands, and
    each node's merged subtree history while the hierarchy's version stands too."""

    def __init__(self):
        self.key: tuple | None = None
        self.samples: dict = {}
        self.nodes: dict = {}
        self.org: dict | None = None
        self.children: dict = {}

    async def load(self, repo: PredictionRepository, history_version: int, hierarchy_version, superior_of: dict):
        if self.key != (history_version, hierarchy_version):
            if self.key is None or self.key[0] != history_version:
                self.samples = domain.owner_samples(await repo.closed_journeys())
            self.key = (history_version, hierarchy_version)
            self.nodes, self.org, self.children = {}, None, {}
            for user, superior in superior_of.items():
                if superior is not None:
                    self.children.setdefault(superior, []).append(user)
        return self

    def subtree(self, node) -> set:
        out, todo = set(), [node]
        while todo:
            current = todo.pop()
            if current not in out:
                out.add(current)
                todo.extend(self.children.get(current, ()))
        return out

    def node_history(self, node) -> dict:
        if node not in self.nodes:
            self.nodes[node] = domain.merged(self.samples, self.subtree(node))
        return self.nodes[node]

    def org_history(self) -> dict:
        if self.org is None:
            self.org = domain.merged(self.samples, self.samples.keys())
        return self.org


history_cache = HistoryCache()


def _pct(value: Decimal) -> Decimal:
    return (value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _money(cents) -> Decimal:
    return from_cents(int(Decimal(cents).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _stage_out(st: domain.StagePrediction) -> dict:
    c = st.conversion
    return {"stage": st.stage, "count": st.count, "open_amount": from_cents(st.open_cents),
            "conversion_pct": _pct(c.probability), "conversion_source": c.source, "source_node": c.source_node,
            "sample_size": c.sample_size, "won_in_sample": c.won_in_sample,
            "median_days_to_close": c.history.median_days if c.history else None,
            "timing_factor": st.timing_factor.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP),
            "expected_amount": _money(st.expected_cents)}


def _prediction_out(p: domain.Prediction) -> dict:
    return {"won_amount": from_cents(p.won_cents), "open_count": p.open_count, "open_amount": from_cents(p.open_cents),
            "expected_amount": from_cents(p.expected_cents), "low_amount": from_cents(p.low_cents),
            "high_amount": from_cents(p.high_cents)}


def _day(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


async def _conversions(session: AsyncSession, runtime: Runtime, node: uuid.UUID, samples_at=None) -> dict:
    """Each open stage's conversion for the node: up its chain, then the organisation, then the stage
    model. `samples_at`: per-owner samples of a backtest (else the cached live history)."""
    rollups = RollupRepository(session)
    stage_model, hierarchy = await rollups.stage_model_and_hierarchy()
    superior_of = await chain_cache.superiors(rollups, runtime.tables.user_replica, hierarchy)
    history_version = await PredictionRepository(session).history_version()
    cache = await history_cache.load(PredictionRepository(session), history_version, hierarchy, superior_of)
    chain = chain_of(superior_of, node)
    if samples_at is None:
        levels = [(n, cache.node_history(n)) for n in chain]
        org = cache.org_history()
    else:
        levels = [(n, domain.merged(samples_at, cache.subtree(n))) for n in chain]
        org = domain.merged(samples_at, samples_at.keys())
    return {s: domain.choose_conversion(s, levels, org, stage_model) for s in domain.OPEN_STAGES}, cache


async def prediction_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                         period_text: str, currency: str | None) -> dict:
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    await ensure_node_visible(session, runtime, principal, node)
    now = utcnow()
    repo = PredictionRepository(session)
    users = runtime.tables.user_replica
    conversions, _ = await _conversions(session, runtime, node)
    rows = await repo.period_pipeline(users, node, period.start, period.end)
    groups = [domain.OpenGroup(stage, domain.age_days(_day(day), now.date()), int(count), int(cents),
                               int(Decimal(str(square))))
              for cur, status, stage, day, count, cents, square in rows if cur == currency and status == "open"]
    won = sum(int(r[5] or 0) for r in rows if r[0] == currency and r[1] == "won")
    others = sorted({r[0] for r in rows if r[0] != currency and (r[5] if r[1] == "won" else r[4])})
    result = domain.predict(groups, won, conversions, domain.horizon_days(period.end, now))
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "as_of": now, "other_currencies": others, "interval": "90%",
            "min_sample": domain.MIN_SAMPLE, "method": METHOD, **_prediction_out(result),
            "stages": [_stage_out(st) for st in result.stages]}


# ---------------------------------------------------------------------- the backtest
def past_periods(kind: str, count: int, today: dt.date) -> list[Period]:
    """The `count` calendar quarters (or months) that ended before today, oldest first."""
    out = []
    if kind == "month":
        for k in range(count, 0, -1):
            start = month_start(today.year, today.month - k)
            out.append(Period(f"{start.year:04d}-{start.month:02d}", "month", start,
                              month_start(start.year, start.month + 1)))
        return out
    index = today.year * 4 + (today.month - 1) // 3
    for k in range(count, 0, -1):
        year, q = divmod(index - k, 4)
        start = dt.date(year, 3 * q + 1, 1)
        out.append(Period(f"{year:04d}-Q{q + 1}", "quarter", start, month_start(year, 3 * q + 4)))
    return out


BACKTEST_FRESH_S = 600


class BacktestCache:
    """Per process: the last answers, while the closed history and the hierarchy stand, for at most
    BACKTEST_FRESH_S (an edit of an open opportunity changes no version but may change a past view)."""

    def __init__(self, size: int = 64):
        self.size = size
        self.answers: dict = {}

    def get(self, key):
        return self.answers.get(key)

    def put(self, key, value) -> None:
        if len(self.answers) >= self.size:
            self.answers.pop(next(iter(self.answers)))
        self.answers[key] = value


backtest_cache = BacktestCache()


async def _submitted(session, runtime, principal, node, period: Period, currency: str) -> int | None:
    answer = await submitted_accuracy(session, runtime, principal, node, period.label, currency)
    own = [p for p in answer["people"] if p["owner_id"] == node]
    return int(Decimal(own[0]["forecast_amount"]) * 100) if own else None


def _point(rows, subtree_rows, conversions, period: Period, t: dt.datetime, currency: str) -> int:
    groups = domain.open_groups_at(subtree_rows, t, period.start, period.end, currency)
    won = domain.won_by(subtree_rows, t, period.start, period.end, currency)
    return domain.predict(groups, won, conversions, domain.horizon_days(period.end, t)).expected_cents


async def _period_backtest(session, runtime, node, rows, subtree_rows, period, currency) -> dict:
    """The method at the period's start and midpoint, and actual won (cents)."""
    out = {"period": period, "actual": domain.won_by(subtree_rows, None, period.start, period.end, currency)}
    for name, day in (("start", period.start), ("midpoint", domain.midpoint(period.start, period.end))):
        t = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
        conversions, _ = await _conversions(session, runtime, node, samples_at=domain.owner_samples(rows, cutoff=t))
        out[name] = _point(rows, subtree_rows, conversions, period, t, currency)
    return out


def _period_out(p: dict, submitted: int | None) -> dict:
    period, actual = p["period"], p["actual"]
    return {"period": period.label, "period_start": period.start, "period_end": period.end,
            "actual_won": from_cents(actual),
            "predicted_at_start": from_cents(p["start"]), "predicted_at_midpoint": from_cents(p["midpoint"]),
            "submitted_forecast": from_cents(submitted) if submitted is not None else None,
            "ape_at_start_pct": domain.ape_pct(p["start"], actual),
            "ape_at_midpoint_pct": domain.ape_pct(p["midpoint"], actual),
            "ape_submitted_pct": domain.ape_pct(submitted, actual)}


async def backtest(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                   kind: str, count: int, currency: str | None) -> dict:
    """What the method would have predicted at each past period's start and midpoint, from what was
    known then (the journeys' entry and close times up to that moment), against actual won; beside the
    node's own last submitted (or published) forecast for the same periods (always read fresh)."""
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    await ensure_node_visible(session, runtime, principal, node)
    today = utcnow().date()
    repo = PredictionRepository(session)
    history_version = await repo.history_version()
    hierarchy = await RollupRepository(session).hierarchy_version()
    key = (history_version, hierarchy, node, kind, count, currency, int(time.time() // BACKTEST_FRESH_S))
    computed = backtest_cache.get(key)
    if computed is None:
        rows = await repo.all_journeys()
        _, cache = await _conversions(session, runtime, node)
        tree = cache.subtree(node)
        subtree_rows = [r for r in rows if r["owner_id"] in tree]
        computed = [await _period_backtest(session, runtime, node, rows, subtree_rows, p, currency)
                    for p in past_periods(kind, count, today)]
        backtest_cache.put(key, computed)
    periods = [_period_out(p, await _submitted(session, runtime, principal, node, p["period"], currency))
               for p in computed]
    return {"node": node, "currency": currency, "kind": kind, "method": METHOD, "formula": ACCURACY_FORMULA,
            "periods": periods,
            "mape_at_start_pct": domain.mape_pct([p["ape_at_start_pct"] for p in periods]),
            "mape_at_midpoint_pct": domain.mape_pct([p["ape_at_midpoint_pct"] for p in periods]),
            "mape_submitted_pct": domain.mape_pct([p["ape_submitted_pct"] for p in periods])}


# ---------------------------------------------------------------------- the rebuild
async def _stage_history(client: httpx.AsyncClient, token: str, opp_id, gate: asyncio.Semaphore) -> list[dict]:
    async with gate:
        try:
            resp = await client.get(f"/v1/opportunities/{opp_id}/stage-history",
                                    headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"opportunity-svc unreachable ({type(exc).__name__})") from None
    if resp.status_code == 404:
        return []  # gone meanwhile: its journey comes from the state alone
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"opportunity-svc answered {resp.status_code} for stage history")
    return resp.json()


def journey_from_history(state, entries: list[dict]) -> dict:
    row = domain.new_journey(state_row(state))
    for e in entries:
        at = dt.datetime.fromisoformat(e["changed_at"].replace("Z", "+00:00"))
        row = domain.apply_step(row, e["kind"], e.get("from_stage"), e["to_stage"], at)
    return domain.with_state(row, state_row(state))


def state_row(o, event_time: dt.datetime | None = None) -> dict:
    """An opportunity state (as events and snapshots carry it) as the fields of its journey."""
    created = o.created_at or event_time or o.updated_at
    return {"id": o.id, "owner_id": o.owner_id, "currency": o.currency, "amount_cents": to_cents(o.amount),
            "close_date": o.close_date, "status": o.status, "stage": o.stage, "version": o.version,
            "updated_at": o.updated_at, "created_at": created,
            "stage_entered_at": o.stage_entered_at or event_time or created}


async def rebuild_journeys(runtime: Runtime, principal: Principal, states: list, started: dt.datetime) -> dict:
    """Journeys for every opportunity of the snapshot whose stored journey is older, from its stage
    history in opportunity-svc (the same steps the events carry, so the same rows); journeys of
    opportunities the snapshot no longer holds and that predate the rebuild are removed."""
    async with runtime.db.session() as session:
        stored = await PredictionRepository(session).journey_versions()
    stale_states = [s for s in states if stored.get(s.id, -1) < s.version]
    gate = asyncio.Semaphore(REBUILD_CONCURRENCY)
    async with peer_client(runtime, "opportunity-svc", timeout=60) as client:
        histories = await asyncio.gather(*[_stage_history(client, principal.token, s.id, gate)
                                           for s in stale_states])
    rows = [journey_from_history(s, h) for s, h in zip(stale_states, histories, strict=True)]
    in_snapshot = {s.id for s in states}
    async with runtime.db.session() as session, session.begin():
        repo = PredictionRepository(session)
        await repo.save_journeys(rows)
        gone = [r.id for r in await repo.stored_journeys() if r.id not in in_snapshot and r.updated_at < started]
        await repo.remove_journeys(gone)
        await repo.history_changed()
    return {"journeys": len(rows), "removed": len(gone)}
