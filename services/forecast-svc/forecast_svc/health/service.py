"""Use cases of funnel health (snapshots, norms, ratings) and quota attainment."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from decimal import Decimal

from sqlalchemy import Date, delete, func, insert, literal, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, ValidationProblem
from kam_shared.events import DomainEvent, utcnow
from kam_shared.events.forecast import FunnelNormSet, NormBasis
from kam_shared.events.forecast import StageNorm as StageNormPayload
from kam_shared.events.team import QuotaState
from kam_shared.hierarchy import subtree_cte
from kam_shared.http import check_if_match
from kam_shared.money import from_cents, to_cents, validate_currency
from kam_shared.peers import snapshot
from kam_shared.replicas import upsert_versioned_many
from kam_shared.repository import Repository

from ..periods.domain import Period
from ..periods.repository import period_of
from ..rollups.models import opportunity_facts as facts
from ..rollups.repository import HistoryRepository
from ..rollups.service import ensure_node_visible, rollup_for
from . import domain
from .domain import PeriodSample, Quota, StageNorm
from .models import funnel_norm_stages, funnel_norms, quota_replica, stage_snapshot_days, stage_snapshots

log = logging.getLogger("kam.forecast.health")
NORM_SET = "kam.forecast.funnel_norm_set.v1"

# ------------------------------------------------------------------------- stage snapshots


async def take_stage_snapshot(runtime: Runtime, day: dt.date, *, taken_by: uuid.UUID | None = None,
                              replace: bool = True) -> dict | None:
    """Copy the open pipeline as it is now, per owner, close month, currency and stage, into
    `day`'s snapshot, in one INSERT … SELECT from the roll-up cells (exact, a few rows a person).

    replace=True re-takes a day that was taken before; replace=False (the daily task) leaves a
    taken day alone and returns None. The day's row is written first: on PostgreSQL its row lock
    makes two takers of the same day (two replicas, or an admin and the task) run one after the other.
    """
    now = utcnow()
    first_month, end_month = domain.snapshot_months(day)
    async with runtime.db.session() as session, session.begin():
        repo = Repository(session)
        mark = repo.insert(stage_snapshot_days).values(day=day, taken_at=now, taken_by=taken_by, rows=0)
        if replace:
            await session.execute(mark.on_conflict_do_update(
                index_elements=[stage_snapshot_days.c.day],
                set_={"taken_at": now, "taken_by": taken_by, "rows": 0}))
        else:
            marked = await session.execute(mark.on_conflict_do_nothing().returning(stage_snapshot_days.c.day))
            if marked.first() is None:
                return None
        replaced = (await session.execute(delete(stage_snapshots).where(stage_snapshots.c.day == day))).rowcount
        # Per owner (the roll-up cells are per node, i.e. subtree totals): grouped from the facts.
        month = (func.date_trunc("month", facts.c.close_date).cast(Date) if repo.postgres
                 else func.date(facts.c.close_date, "start of month"))
        taken = await session.execute(insert(stage_snapshots).from_select(
            ["day", "owner_id", "month", "currency", "stage", "count", "amount_cents"],
            select(literal(day, Date()), facts.c.owner_id, month, facts.c.currency, facts.c.stage,
                   func.count(), func.sum(facts.c.amount_cents))
            .where(facts.c.status == "open", facts.c.close_date >= first_month, facts.c.close_date < end_month)
            .group_by(facts.c.owner_id, month, facts.c.currency, facts.c.stage)))
        await session.execute(update(stage_snapshot_days).where(stage_snapshot_days.c.day == day)
                              .values(rows=taken.rowcount))
        if repo.postgres:
            # A day's batch is the one moment the table's statistics change. Without them (autovacuum
            # off or behind) the planner takes the snapshots for a handful of rows and scans the
            # whole subtree once per snapshot row when deriving a norm: minutes instead of seconds.
            await session.execute(text("ANALYZE stage_snapshots"))
    return {"day": day, "rows": taken.rowcount, "replaced_rows": replaced, "taken_at": now, "taken_by": taken_by}


async def regenerate_stage_snapshots(session: AsyncSession) -> int:
    """Re-take the daily stage snapshots from the state history (after a database loss they are
    gone, and the daily task took today's from the empty read model): each day since the history
    is known as the open pipeline stood at its midnight (UTC), when the daily task takes it, and
    today's as it stands now (as re-taking today does). In the caller's transaction (the
    rebuild's). Returns how many days were taken."""
    first = await _first_snapshot_day(session)
    now = utcnow()
    if first is None or first > now.date():
        return 0
    days = [first + dt.timedelta(days=i) for i in range((now.date() - first).days + 1)]
    at = [(d, now if d == now.date() else dt.datetime.combine(d, dt.time(), tzinfo=dt.timezone.utc)) for d in days]
    history = HistoryRepository(session)
    current: dict[tuple, list[int]] = {}
    for owner, close_date, currency, stage, cents in await history.open_facts():
        cell = current.setdefault((owner, close_date.replace(day=1), currency, stage), [0, 0])
        cell[0] += 1
        cell[1] += cents
    by_day = domain.snapshots_from_history(current, await history.states_after(min(t for _, t in at)), at)
    await session.execute(delete(stage_snapshots).where(stage_snapshots.c.day >= first))
    await session.execute(delete(stage_snapshot_days).where(stage_snapshot_days.c.day >= first))
    for day, rows in sorted(by_day.items()):
        await session.execute(insert(stage_snapshot_days).values(day=day, taken_at=now, taken_by=None, rows=len(rows)))
        if rows:
            await session.execute(insert(stage_snapshots), [
                dict(day=day, owner_id=r[0], month=r[1], currency=r[2], stage=r[3], count=r[4], amount_cents=r[5])
                for r in rows])
    return len(by_day)


async def _first_snapshot_day(session: AsyncSession) -> dt.date | None:
    """The first day whose midnight the state history knows: the day after its horizon (or the
    horizon's day if it is a midnight); without a horizon the history starts with the stream (the
    pipeline was empty before it), so the first state's day."""
    horizon, first_state = await HistoryRepository(session).limit()
    if horizon is not None:
        return horizon.date() if horizon.time() == dt.time() else horizon.date() + dt.timedelta(days=1)
    return first_state.date() if first_state is not None else None


async def take_stage_snapshot_on_demand(runtime: Runtime, principal: Principal, day: dt.date | None) -> dict:
    if not principal.is_admin:
        raise Forbidden("only an admin takes stage snapshots by hand")
    today = utcnow().date()
    day = day or today
    if day > today:
        raise ValidationProblem(f"{day} is in the future; a snapshot records the pipeline as it is now",
                                field="day")
    return await take_stage_snapshot(runtime, day, taken_by=principal.user_id)


async def list_snapshot_days(session: AsyncSession, principal: Principal, limit: int, cursor: str | None) -> dict:
    """The days snapshotted, newest first."""
    if not principal.is_admin:
        raise Forbidden("only an admin lists stage snapshots")
    items, next_cursor = await Repository(session).paginate(
        select(stage_snapshot_days), keys=[stage_snapshot_days.c.day], limit=limit, cursor=cursor, descending=True)
    return {"items": items, "next_cursor": next_cursor}


DAILY_RETRY_S = 300


async def run_daily_stage_snapshots(runtime: Runtime) -> None:
    """Background task: take each UTC day's snapshot once, shortly after midnight (and at start-up
    when today's is missing). With several replicas the first to start a day takes it; the rest
    find it taken. A failure is logged and retried a few minutes later."""
    while True:
        try:
            taken = await take_stage_snapshot(runtime, utcnow().date(), replace=False)
            if taken:
                log.info("stage snapshot of %s taken: %d rows", taken["day"], taken["rows"])
            delay = domain.seconds_until_next_day(utcnow())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("stage snapshot failed; retrying in %d s", DAILY_RETRY_S)
            delay = DAILY_RETRY_S
        await asyncio.sleep(delay)


def start_daily_stage_snapshots(runtime: Runtime) -> asyncio.Task | None:
    """Start the daily snapshot task beside the relay and the consumer (same switch), tracked in
    runtime.tasks like them; returns it so the caller can stop it."""
    if not runtime.settings.run_background_workers:
        return None
    task = asyncio.create_task(run_daily_stage_snapshots(runtime), name="stage-snapshots")
    runtime.tasks.append(task)
    return task


# ----------------------------------------------------------------------------------- norms


def _ensure_may_set_norms(principal: Principal) -> None:
    if principal.role not in ("manager", "admin"):
        raise Forbidden("only a manager (for their own subtree) or an admin sets funnel norms")


async def _norm_scope(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                      period_text: str, currency: str | None) -> tuple[Period, str]:
    """Parse and authorise in the order every read does: period, currency, then the node (404)."""
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    await ensure_node_visible(session, runtime, principal, node)
    return period, currency


async def _load_norm(session: AsyncSession, norm_id: uuid.UUID, version: int | None = None) -> dict | None:
    query = select(funnel_norms).where(funnel_norms.c.norm_id == norm_id)
    query = (query.where(funnel_norms.c.version == version) if version is not None
             else query.order_by(funnel_norms.c.version.desc()).limit(1))
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    stages = (await session.execute(
        select(funnel_norm_stages).where(funnel_norm_stages.c.norm_id == norm_id,
                                         funnel_norm_stages.c.version == row["version"])
        .order_by(funnel_norm_stages.c.stage))).mappings().all()
    return _norm_view(row, {s["stage"]: StageNorm(s["stage"], Decimal(s["count_hundredths"]) / 100,
                                                  from_cents(s["amount_cents"])) for s in stages})


def _norm_view(row, stages: dict[int, StageNorm]) -> dict:
    return {"norm_id": row["norm_id"], "node": row["node_id"], "period": row["period"],
            "period_start": row["period_start"], "period_end": row["period_end"], "currency": row["currency"],
            "version": row["version"], "source": row["source"], "from_periods": row["from_periods"],
            "set_by": row["set_by"], "set_at": row["set_at"], "stages": _stage_views(stages)}


def _stage_views(stages: dict[int, StageNorm]) -> list[dict]:
    return [{"stage": s.stage, "count": s.count.quantize(domain.COUNT_STEP), "amount": s.amount}
            for s in stages.values()]


async def get_norm(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                   period_text: str, currency: str | None) -> dict:
    period, currency = await _norm_scope(session, runtime, principal, node, period_text, currency)
    norm = await _load_norm(session, domain.norm_id_for(node, period.start, period.end, currency))
    if norm is None:
        raise NotFound(f"no funnel norm for node {node}, {period.label}, {currency}")
    return norm


async def norm_versions(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                        period_text: str, currency: str | None) -> list[dict]:
    """Every version, newest first: who set what, when, by hand or derived from which periods."""
    period, currency = await _norm_scope(session, runtime, principal, node, period_text, currency)
    norm_id = domain.norm_id_for(node, period.start, period.end, currency)
    versions = (await session.scalars(select(funnel_norms.c.version).where(funnel_norms.c.norm_id == norm_id)
                                      .order_by(funnel_norms.c.version.desc()))).all()
    if not versions:
        raise NotFound(f"no funnel norm for node {node}, {period.label}, {currency}")
    return [await _load_norm(session, norm_id, v) for v in versions]


async def _save_norm(uow: UnitOfWork, principal: Principal, node: uuid.UUID, period: Period, currency: str,
                     source: str, from_periods: list[dict] | None, stages: dict[int, StageNorm],
                     if_match: str | None) -> dict:
    """A new version, unless it would equal the one in force (a retried request changes nothing)."""
    session = uow.session
    norm_id = domain.norm_id_for(node, period.start, period.end, currency)
    current = await _load_norm(session, norm_id)
    check_if_match(if_match, current["version"] if current else 0)
    if current and (current["source"], current["from_periods"], current["stages"]) == \
            (source, from_periods, _stage_views(stages)):
        return current
    version, now = (current["version"] if current else 0) + 1, utcnow()
    row = dict(norm_id=norm_id, version=version, node_id=node, period=period.label, period_start=period.start,
               period_end=period.end, currency=currency, source=source, from_periods=from_periods,
               set_by=principal.user_id, set_at=now)
    try:
        await session.execute(insert(funnel_norms).values(**row))
    except IntegrityError:
        # Another request saved this version first (its transaction held the key): no lost update.
        raise Conflict(f"the norm was changed meanwhile (now past version {version - 1}); read it and retry") \
            from None
    await session.execute(insert(funnel_norm_stages), [
        dict(norm_id=norm_id, version=version, stage=s.stage, count_hundredths=int(s.count * 100),
             amount_cents=to_cents(s.amount)) for s in stages.values()])
    uow.publish(DomainEvent(NORM_SET, norm_id, version, FunnelNormSet(
        norm_id=norm_id, node_id=node, period=period.label, period_start=period.start, period_end=period.end,
        currency=currency, version=version, source=source,
        from_periods=[NormBasis(**b) for b in from_periods] if from_periods is not None else None,
        stages=[StageNormPayload(stage=s.stage, count=s.count, amount=s.amount) for s in stages.values()],
        set_by=principal.user_id, set_at=now)))
    return _norm_view(row, stages)


async def put_manual_norm(uow: UnitOfWork, runtime: Runtime, principal: Principal, node: uuid.UUID,
                          period_text: str, currency: str | None, stages: list[tuple[int, Decimal, Decimal]],
                          if_match: str | None) -> dict:
    period, currency = await _norm_scope(uow.session, runtime, principal, node, period_text, currency)
    _ensure_may_set_norms(principal)
    return await _save_norm(uow, principal, node, period, currency, "manual", None,
                            domain.validate_norm_stages(stages), if_match)


async def _basis_period(session: AsyncSession, label: str) -> Period:
    try:
        return await period_of(session, label)
    except ValidationProblem as exc:
        raise ValidationProblem(f"from_periods: {label!r}: {exc.detail}", field="from_periods") from None


async def _period_sample(session: AsyncSession, runtime: Runtime, node: uuid.UUID, period: Period,
                         currency: str) -> PeriodSample:
    """The node's subtree's snapshots of one past period: days inside it, pipeline closing in it."""
    in_period = (stage_snapshot_days.c.day >= period.start, stage_snapshot_days.c.day < period.end)
    days = await session.scalar(select(func.count()).select_from(stage_snapshot_days).where(*in_period))
    if not days:
        return PeriodSample(period.label, 0, {})
    tree = subtree_cte(runtime.tables.user_replica, node)
    s = stage_snapshots
    rows = (await session.execute(
        select(s.c.stage, func.sum(s.c.count), func.sum(s.c.amount_cents))
        .select_from(s.join(tree, s.c.owner_id == tree.c.id))
        .where(s.c.currency == currency, s.c.month >= period.start, s.c.month < period.end,
               s.c.day >= period.start, s.c.day < period.end)
        .group_by(s.c.stage))).all()
    return PeriodSample(period.label, days, {stage: (int(n or 0), int(c or 0)) for stage, n, c in rows})


async def derive_norm(uow: UnitOfWork, runtime: Runtime, principal: Principal, node: uuid.UUID, period_text: str,
                      currency: str | None, from_periods: list[str] | None, if_match: str | None) -> dict:
    session = uow.session
    period, currency = await _norm_scope(session, runtime, principal, node, period_text, currency)
    _ensure_may_set_norms(principal)
    labels = from_periods if from_periods is not None else domain.previous_period_labels(period)
    basis = [await _basis_period(session, label) for label in labels]
    domain.check_basis_periods(period, basis)
    samples = [await _period_sample(session, runtime, node, p, currency) for p in basis]
    stages = domain.derive_stage_norms(samples)
    return await _save_norm(uow, principal, node, period, currency, "derived",
                            [{"period": s.period, "snapshot_days": s.snapshot_days} for s in samples], stages,
                            if_match)


# ---------------------------------------------------------------------------- funnel health


def _as_dict(item) -> dict:
    """rollup_for's rows are dataclasses today; mappings are accepted too."""
    return item if isinstance(item, dict) else vars(item)


async def funnel_health(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                        period_text: str, currency: str | None) -> dict:
    rollup = await rollup_for(session, runtime, principal, node, period_text, currency)
    norm = await _load_norm(session, domain.norm_id_for(node, rollup["period_start"], rollup["period_end"],
                                                        rollup["currency"]))
    norms = {s["stage"]: StageNorm(s["stage"], s["count"], s["amount"]) for s in norm["stages"]} if norm else None
    by_stage = {f["stage"]: f for f in map(_as_dict, rollup["stages"])}
    current = [(stage, by_stage[stage]["count"] if stage in by_stage else 0,
                by_stage[stage]["amount"] if stage in by_stage else Decimal("0.00")) for stage in domain.OPEN_STAGES]
    stages, overall = domain.funnel_health(current, norms)
    return {"node": node, "period": rollup["period"], "period_start": rollup["period_start"],
            "period_end": rollup["period_end"], "currency": rollup["currency"],
            "other_currencies": rollup["other_currencies"], "as_of": rollup["as_of"],
            "norm_source": norm["source"] if norm else None, "norm_version": norm["version"] if norm else None,
            "norm_set_at": norm["set_at"] if norm else None,
            "stages": [{"stage": stage, **_health_view(h)} for stage, h in stages.items()],
            "overall": _health_view(overall), "overall_rating": overall.rating}


def _health_view(h: domain.Health) -> dict:
    return {"count": h.count, "amount": h.amount, "norm_count": h.norm_count, "norm_amount": h.norm_amount,
            "ratio_by_count": h.ratio_by_count, "ratio_by_amount": h.ratio_by_amount,
            "rating_by_count": h.rating_by_count, "rating_by_amount": h.rating_by_amount}


# ------------------------------------------------------------------------------ attainment


def quota_row(q: QuotaState) -> dict:
    """A replica row from team-svc's quota state (an event's `quota`, or an item of GET /v1/quotas)."""
    return dict(id=q.id, owner_kind=q.owner_kind, owner_id=q.owner_id, responsible_user_id=q.responsible_user_id,
                period=q.period, period_start=q.period_start, period_end=q.period_end, currency=q.currency,
                amount_cents=to_cents(q.amount),
                approved_amount_cents=to_cents(q.approved_amount) if q.approved_amount is not None else None,
                status=q.status, revision=q.revision, parent_quota_id=q.parent_quota_id, version=q.version)


async def quotas_answered_for(session: AsyncSession, person: uuid.UUID, start: dt.date, end: dt.date) -> list[Quota]:
    """The quotas `person` is responsible for whose period is exactly [start, end)."""
    rows = (await session.execute(select(quota_replica).where(
        quota_replica.c.responsible_user_id == person, quota_replica.c.period_start == start,
        quota_replica.c.period_end == end))).mappings().all()
    return [Quota(r["id"], r["owner_kind"], r["owner_id"], r["period"], r["currency"], from_cents(r["amount_cents"]),
                  from_cents(r["approved_amount_cents"]) if r["approved_amount_cents"] is not None else None,
                  r["status"], r["revision"]) for r in rows]


async def _node_attainment(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                           period_text: str, currency: str | None) -> dict:
    everything = await rollup_for(session, runtime, principal, node, period_text, currency)
    confirmed = await rollup_for(session, runtime, principal, node, period_text, currency, confirmed_only=True)
    start, end, currency = everything["period_start"], everything["period_end"], everything["currency"]
    targets = domain.quota_targets(await quotas_answered_for(session, node, start, end))
    target = targets.pop(currency, None)
    figures = domain.attainment(target, everything["won_amount"],
                                {c["category"]: c["amount"] for c in map(_as_dict, confirmed["categories"])})
    return {"node": node, "period": everything["period"], "period_start": start, "period_end": end,
            "currency": currency, "as_of": everything["as_of"],
            "quota": figures.quota, "quota_status": figures.quota_status,
            "quotas": [_quota_view(q) for q in target.quotas] if target else [],
            "won": figures.won, "forecast_commit": figures.forecast_commit,
            "forecast_best_case": figures.forecast_best_case, "gap": figures.gap,
            "attainment_pct": figures.attainment_pct, "forecast_attainment_pct": figures.forecast_attainment_pct,
            "other_currencies": [{"currency": c, "quota": t.amount, "quota_status": t.status}
                                 for c, t in sorted(targets.items())],
            "other_opportunity_currencies": everything["other_currencies"]}


def _quota_view(q: Quota) -> dict:
    return {"id": q.id, "owner_kind": q.owner_kind, "owner_id": q.owner_id, "period": q.period,
            "status": q.status, "revision": q.revision, "amount": q.amount, "approved_amount": q.approved_amount}


async def attainment_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                         period_text: str, currency: str | None) -> dict:
    """The node's figures and the same for each direct report (a manager reads the table row by row)."""
    result = await _node_attainment(session, runtime, principal, node, period_text, currency)
    users = runtime.tables.user_replica
    reports = (await session.execute(select(users.c.id, users.c.name).where(users.c.superior_id == node)
                                     .order_by(users.c.name, users.c.id))).all()
    result["children"] = []
    for report_id, name in reports:
        child = await _node_attainment(session, runtime, principal, report_id, period_text, result["currency"])
        result["children"].append({"name": name, **child})
    return result


# ------------------------------------------------------------------------- quota replica


async def rebuild_quotas(runtime: Runtime, principal: Principal) -> int:
    """Replace the quota replica's rows from team-svc's GET /v1/quotas (every page), under the same
    version guard as the events, so whichever is newer wins. team-svc never deletes a quota, so
    nothing is removed. Returns how many quotas the snapshot held."""
    if not principal.is_admin:
        raise Forbidden("only an admin can rebuild read models")
    rows = [quota_row(QuotaState.model_validate(q))
            async for q in snapshot(runtime, "team-svc", "/v1/quotas", principal.token)]
    async with runtime.db.session() as session, session.begin():
        await upsert_versioned_many(session, quota_replica, rows)
    return len(rows)
