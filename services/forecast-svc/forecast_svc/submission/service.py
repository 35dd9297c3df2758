"""Use cases of forecast submission (逐层上报): principles, records, versions, publication, accuracy.

Who may do what (the hierarchy is forecast-svc's replica of team-svc's users):
* see a record and its versions: its owner, anyone above the owner, an admin; anyone else 404;
* create a record: only for yourself;
* adjust, refresh, submit: only the owner (anyone else who can see the record gets 403);
* record channel forecasts and publish: the owner of a record at the top of a chain (no superior,
  the business unit), or an admin acting on such a record;
* nothing changes on a published record, nor on any record below it for the same period and
  currency (409): the final forecast is out, the period is locked.

Every change appends one immutable version and publishes one event in the same transaction;
a refused change writes nothing.
"""
from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import and_, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, Forbidden, NotFound, ValidationProblem
from kam_shared.events import DomainEvent, utcnow
from kam_shared.events.forecast import (
    ForecastAdjusted,
    ForecastChannel,
    ForecastChannelRecorded,
    ForecastChild,
    ForecastFigures,
    ForecastPublished,
    ForecastRecordCreated,
    ForecastRecordState,
    ForecastRefreshed,
    ForecastSubmitted,
)
from kam_shared.hierarchy import is_above
from kam_shared.http import check_if_match
from kam_shared.money import from_cents, to_cents, validate_currency
from kam_shared.repository import Repository
from kam_shared.repository import for_update as _lock

from ..categories.domain import CATEGORIES
from ..periods.domain import Period
from ..periods.repository import period_of
from ..rollups.models import opportunity_facts as facts
from ..rollups.service import ensure_node_visible, own_opportunities, rollup_for
from . import domain
from .domain import ChannelForecast, Child, ForecastState, Line, Principles
from .models import forecast_principles as principles_table
from .models import forecast_records as records
from .models import forecast_versions as versions

FIGURE_COLUMNS = {c: f"{c}_cents" for c in CATEGORIES}
ACCURACY_FORMULA = "accuracy_pct = 100 × (1 − |forecast − actual| / max(forecast, actual)); 100 when both are 0"


def _same_range(table, period: Period) -> tuple:
    """Records, principles and the publish lock are keyed by the period's dates, not its label:
    FY2026-Q4 (fiscal year from January) is the same three months as 2026-Q4."""
    return table.c.period_start == period.start, table.c.period_end == period.end


# ================================================================== principles (预测原则)
async def _principles_row(session: AsyncSession, period: Period, lock: bool = False):
    query = select(principles_table).where(*_same_range(principles_table, period))
    if lock:
        query = _lock(query, session)
    return (await session.execute(query)).mappings().first()


async def principles_for(session: AsyncSession, period: Period) -> tuple[Principles, dict | None]:
    row = await _principles_row(session, period)
    if row is None:
        return Principles(), None
    return Principles(tuple(row["counted_categories"]), tuple(row["upside_categories"])), dict(row)


def _present_principles(period: Period, principles: Principles, row: dict | None) -> dict:
    return {"period": period.label, "period_start": period.start, "period_end": period.end,
            "counted_categories": list(principles.counted), "upside_categories": list(principles.upside),
            "due_date": row["due_date"] if row else None, "note": row["note"] if row else None,
            "version": row["version"] if row else 0, "updated_by": row["updated_by"] if row else None,
            "updated_at": row["updated_at"] if row else None}


async def get_principles(session: AsyncSession, period_text: str) -> dict:
    period = await period_of(session, period_text)
    return _present_principles(period, *await principles_for(session, period))


async def put_principles(uow: UnitOfWork, principal: Principal, period_text: str, counted: list[str],
                         upside: list[str], due_date, note: str | None, if_match: str | None) -> dict:
    """Set the principles of one period (admin). Versions already written keep the principles they
    were computed under; every later version of every record uses the new ones."""
    if not principal.is_admin:
        raise Forbidden("only an admin sets the forecast principles")
    session = uow.session
    period = await period_of(session, period_text)
    principles = domain.validate_principles(counted, upside)
    row = await _principles_row(session, period, lock=True)
    check_if_match(if_match, row["version"] if row else 0)
    values = dict(counted_categories=list(principles.counted), upside_categories=list(principles.upside),
                  due_date=due_date, note=note or None, updated_by=principal.user_id, updated_at=utcnow())
    if row is None:
        values["version"] = 1
        try:
            await session.execute(insert(principles_table).values(
                period=period.label, period_start=period.start, period_end=period.end, **values))
        except IntegrityError:
            raise Conflict(f"the principles of {period.label} were set meanwhile; read them and retry",
                           field="period") from None
    else:
        values["version"] = row["version"] + 1
        await session.execute(update(principles_table).where(*_same_range(principles_table, period))
                              .values(**values))
    return _present_principles(period, principles, values)


# ================================================================== loading and checks
async def _load(session: AsyncSession, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                for_update: bool = False) -> dict:
    """The record if the principal may see it (owner, above the owner, admin); else 404."""
    query = select(records).where(records.c.id == record_id)
    if for_update:
        query = _lock(query, session)
    row = (await session.execute(query)).mappings().first()
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise NotFound(f"forecast record {record_id} not found")
    return dict(row)


async def _load_for_change(session: AsyncSession, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                           if_match: str | None, *, owner_only: str | None = None,
                           owner_or_admin: str | None = None) -> dict:
    """Load and lock the record for a change: 404 if the caller may not see it, 403 if they may
    see it but the change is not theirs to make, 412 if If-Match names another version."""
    record = await _load(session, runtime, principal, record_id, for_update=True)
    mine = record["owner_id"] == principal.user_id
    if owner_only and not mine:
        raise Forbidden(owner_only)
    if owner_or_admin and not (mine or principal.is_admin):
        raise Forbidden(owner_or_admin)
    check_if_match(if_match, record["version"])
    return record


async def _superior_of(session: AsyncSession, runtime: Runtime, user_id: uuid.UUID) -> uuid.UUID | None:
    users = runtime.tables.user_replica
    row = (await session.execute(select(users.c.superior_id).where(users.c.id == user_id))).first()
    if row is None:
        raise Conflict(f"user {user_id} is not in forecast-svc's copy of the hierarchy yet (team-svc's event has "
                       "not arrived); try again shortly", field="owner_id")
    return row.superior_id


async def _published_above(session: AsyncSession, runtime: Runtime, owner_id: uuid.UUID, period: Period,
                           currency: str, *, lock: bool = False) -> uuid.UUID | None:
    """The published record, if any, of the owner or anyone up their chain for this period and currency.
    On PostgreSQL the chain's records are share-locked, so a publication cannot commit between this
    check and the caller's change (publishing takes the row lock)."""
    users = runtime.tables.user_replica
    chain = select(literal(owner_id, users.c.id.type).label("id")).cte("chain", recursive=True)
    chain = chain.union(select(users.c.superior_id).where(users.c.id == chain.c.id,
                                                          users.c.superior_id.is_not(None)))  # UNION: stops on a cycle
    query = (select(records.c.id, records.c.status).join(chain, records.c.owner_id == chain.c.id)
             .where(*_same_range(records, period), records.c.currency == currency))
    if lock:
        query = _lock(query, session, read=True, of=records)
    rows = (await session.execute(query)).all()
    return next((r.id for r in rows if r.status == "published"), None)


async def _ensure_open(session: AsyncSession, runtime: Runtime, record: dict) -> None:
    published = await _published_above(session, runtime, record["owner_id"], _period_of_record(record),
                                       record["currency"], lock=True)
    domain.ensure_open(record["status"], published, record["id"], record["period"], record["currency"])


def _period_of_record(record: dict) -> Period:
    return Period(record["period"], "", record["period_start"], record["period_end"])


# ================================================================== the pre-fill
async def _direct_reports(session: AsyncSession, runtime: Runtime, owner_id: uuid.UUID, period: Period,
                          currency: str) -> list:
    """Each direct report with their record for the period and its last submitted version (if any)."""
    users = runtime.tables.user_replica
    submitted = versions.alias("submitted")
    query = (select(users.c.id.label("owner_id"), users.c.active, records.c.id.label("record_id"),
                    submitted.c.number, submitted.c.created_at, submitted.c.forecast_cents, submitted.c.upside_cents,
                    *(submitted.c[col] for col in FIGURE_COLUMNS.values()))
             .select_from(users.outerjoin(records, and_(records.c.owner_id == users.c.id, *_same_range(records, period),
                                                        records.c.currency == currency))
                          .outerjoin(submitted, and_(submitted.c.record_id == records.c.id,
                                                     submitted.c.number == records.c.last_submitted_version)))
             .where(users.c.superior_id == owner_id).order_by(users.c.id))
    return (await session.execute(query)).mappings().all()


async def _gather(session: AsyncSession, runtime: Runtime, principal: Principal, owner_id: uuid.UUID,
                  period: Period, currency: str, principles: Principles) -> ForecastState:
    """A fresh pre-fill: own confirmed primary-owner opportunities closing in the period, the direct
    reports' latest submissions (managers), those who have not submitted, and the live confirmed
    roll-up of the subtree for reference."""
    lines = [Line(o["id"], o["account_id"], o["amount_cents"], o["category"], o["stage"], o["status"],
                  o["close_date"])
             for o in await own_opportunities(session, owner_id, period, currency, confirmed_only=True)]
    children, missing = [], []
    for r in await _direct_reports(session, runtime, owner_id, period, currency):
        if r["number"] is not None:
            children.append(Child(r["record_id"], r["owner_id"], r["number"], r["created_at"],
                                  {c: r[col] for c, col in FIGURE_COLUMNS.items()}, r["forecast_cents"],
                                  r["upside_cents"]))
        elif r["active"]:  # someone who left is not waited for
            missing.append(r["owner_id"])
    live = await rollup_for(session, runtime, principal, owner_id, period.label, currency, confirmed_only=True)
    live_rollup = {c["category"]: to_cents(c["amount"]) for c in live["categories"]}
    return domain.prefill(principles, lines, children, missing, live_rollup)


# ================================================================== writing versions
async def _insert_version(session: AsyncSession, record_id: uuid.UUID, number: int, kind: str,
                          state: ForecastState, by: uuid.UUID, at, **columns) -> None:
    figures = state.figures
    await session.execute(insert(versions).values(
        record_id=record_id, number=number, kind=kind, forecast_cents=state.forecast_cents,
        upside_cents=state.upside_cents, created_by=by, created_at=at, state=state.to_json(),
        **{col: figures[c] for c, col in FIGURE_COLUMNS.items()}, **columns))


async def _append_version(session: AsyncSession, record: dict, kind: str, state: ForecastState,
                          by: uuid.UUID, *, at=None, record_values: dict | None = None, **columns) -> dict:
    """Version n+1 and the record's pointers, guarded by the version the caller read."""
    at = at or utcnow()
    number = record["version"] + 1
    values = dict(version=number, updated_at=at, **(record_values or {}))
    result = await session.execute(update(records).where(records.c.id == record["id"],
                                                         records.c.version == record["version"]).values(**values))
    if result.rowcount != 1:
        raise Conflict("the record changed meanwhile; read it again and retry")
    await _insert_version(session, record["id"], number, kind, state, by, at, **columns)
    return {**record, **values}


async def _latest(session: AsyncSession, record: dict) -> tuple[dict, ForecastState]:
    row = (await session.execute(select(versions).where(versions.c.record_id == record["id"],
                                                        versions.c.number == record["version"]))).mappings().one()
    return dict(row), ForecastState.from_json(row["state"])


# ================================================================== events
def _figures_payload(figures: dict) -> ForecastFigures:
    return ForecastFigures(**{c: from_cents(figures.get(c, 0)) for c in CATEGORIES})


def _record_payload(record: dict, state: ForecastState) -> ForecastRecordState:
    return ForecastRecordState(
        id=record["id"], owner_id=record["owner_id"], period=record["period"], period_start=record["period_start"],
        period_end=record["period_end"], currency=record["currency"], status=record["status"],
        version=record["version"], figures=_figures_payload(state.figures),
        forecast_amount=from_cents(state.forecast_cents), upside_amount=from_cents(state.upside_cents),
        counted_categories=list(state.principles.counted), upside_categories=list(state.principles.upside),
        adjustments={c: from_cents(v) for c, v in state.adjustments.items() if v},
        last_submitted_version=record["last_submitted_version"], submitted_to=record["submitted_to"])


def _children_payload(state: ForecastState) -> list[ForecastChild]:
    return [ForecastChild(record_id=c.record_id, owner_id=c.owner_id, version=c.version, submitted_at=c.submitted_at,
                          figures=_figures_payload(c.figures), forecast_amount=from_cents(c.forecast_cents),
                          upside_amount=from_cents(c.upside_cents)) for c in state.children]


def _channel_payload(ch: ChannelForecast) -> ForecastChannel:
    return ForecastChannel(channel=ch.channel, amount=from_cents(ch.amount_cents), note=ch.note,
                           recorded_by=ch.recorded_by, recorded_at=ch.recorded_at)


def _event(kind: str, record: dict, payload) -> DomainEvent:
    return DomainEvent(f"kam.forecast.{kind}.v1", record["id"], record["version"], payload)


# ================================================================== use cases: changes
async def create_record(uow: UnitOfWork, runtime: Runtime, principal: Principal, period_text: str,
                        currency: str | None, owner_id: uuid.UUID | None) -> dict:
    """Your forecast record for a period and currency, pre-filled as version 1."""
    if owner_id is not None and owner_id != principal.user_id:
        raise Forbidden("you create your own forecast record only; its owner is whoever creates it",
                        field="owner_id")
    session = uow.session
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    me = principal.user_id
    await _superior_of(session, runtime, me)  # known in the hierarchy, or 409
    existing = await session.scalar(select(records.c.id).where(
        records.c.owner_id == me, *_same_range(records, period), records.c.currency == currency))
    if existing is not None:
        raise Conflict(f"you already have a forecast record for {period.label} ({currency}): {existing}",
                       field="period", existing_id=str(existing))
    published = await _published_above(session, runtime, me, period, currency, lock=True)
    if published is not None:
        domain.ensure_open("draft", published, None, period.label, currency)
    principles, _ = await principles_for(session, period)
    state = await _gather(session, runtime, principal, me, period, currency, principles)
    now = utcnow()
    record = dict(id=uuid.uuid4(), owner_id=me, period=period.label, period_start=period.start,
                  period_end=period.end, currency=currency, status="draft", version=1, last_submitted_version=None,
                  submitted_to=None, submitted_at=None, published_version=None, published_at=None,
                  created_at=now, updated_at=now)
    try:
        await session.execute(insert(records).values(**record))
        await session.flush()
    except IntegrityError:  # a concurrent create of the same record won
        raise Conflict(f"you already have a forecast record for {period.label} ({currency})", field="period") from None
    await _insert_version(session, record["id"], 1, "prefill", state, me, now,
                          change={"opportunities": len(state.lines), "children": len(state.children),
                                  "missing": len(state.missing)})
    uow.publish(_event("record_created", record, ForecastRecordCreated(
        record=_record_payload(record, state), created_by=me, opportunity_count=len(state.lines),
        children=_children_payload(state), missing=list(state.missing))))
    return await _present_full(session, runtime, record)


async def adjust(uow: UnitOfWork, runtime: Runtime, principal: Principal, record_id: uuid.UUID, *, category: str,
                 amount_delta, amount, reason: str, if_match: str | None) -> dict:
    """The owner revises (修订) one category of their own record, with a reason. A superior never
    adjusts a subordinate's record: they adjust their own, which took the subordinate's in."""
    session = uow.session
    record = await _load(session, runtime, principal, record_id, for_update=True)
    if record["owner_id"] != principal.user_id:
        if await is_above(session, runtime.tables.user_replica, principal.user_id, record["owner_id"]):
            raise Forbidden("adjust your own record; a subordinate's record is theirs (your own record takes "
                            "their submission in, adjust that)")
        raise Forbidden("only the record's owner adjusts it")
    check_if_match(if_match, record["version"])
    await _ensure_open(session, runtime, record)
    _, state = await _latest(session, record)
    principles, _ = await principles_for(session, _period_of_record(record))
    new_state, change = domain.adjust(
        state, principles, category, delta_cents=to_cents(amount_delta) if amount_delta is not None else None,
        new_amount_cents=to_cents(amount) if amount is not None else None)
    record = await _append_version(
        session, record, "adjustment", new_state, principal.user_id, record_values={"status": "draft"},
        adjusted_category=category, adjustment_cents=change.delta_cents, reason=reason,
        change={"category": category, "before_cents": change.before_cents, "after_cents": change.after_cents,
                "delta_cents": change.delta_cents})
    uow.publish(_event("adjusted", record, ForecastAdjusted(
        record=_record_payload(record, new_state), category=category, amount_before=from_cents(change.before_cents),
        amount_after=from_cents(change.after_cents), delta=from_cents(change.delta_cents), reason=reason,
        adjusted_by=principal.user_id)))
    return await _present_full(session, runtime, record)


async def refresh(uow: UnitOfWork, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                  if_match: str | None) -> dict:
    """Re-pull the pre-fill (own opportunities now, direct reports' latest submissions) keeping the
    owner's adjustments and channel forecasts. Nothing new to pull: no version, no event."""
    session = uow.session
    record = await _load_for_change(session, runtime, principal, record_id, if_match,
                                    owner_only="only the record's owner refreshes it")
    await _ensure_open(session, runtime, record)
    _, state = await _latest(session, record)
    period = _period_of_record(record)
    principles, _ = await principles_for(session, period)
    fresh = await _gather(session, runtime, principal, record["owner_id"], period, record["currency"], principles)
    new_state, trimmed = domain.refresh(state, fresh)
    if new_state == state:
        return await _present_full(session, runtime, record)
    figures_before = state.figures
    record = await _append_version(
        session, record, "refresh", new_state, principal.user_id, record_values={"status": "draft"},
        change={"trimmed_adjustments": trimmed, "figures_before": figures_before})
    uow.publish(_event("refreshed", record, ForecastRefreshed(
        record=_record_payload(record, new_state), refreshed_by=principal.user_id,
        figures_before=_figures_payload(figures_before),
        trimmed_adjustments={c: from_cents(v) for c, v in trimmed.items()},
        children=_children_payload(new_state), missing=list(new_state.missing))))
    return await _present_full(session, runtime, record)


async def submit(uow: UnitOfWork, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                 note: str | None, if_match: str | None) -> dict:
    """Submit your record to your superior (in the replicated hierarchy). Allowed again (a new
    version) until the period is locked by a publication above."""
    session = uow.session
    record = await _load_for_change(session, runtime, principal, record_id, if_match,
                                    owner_only="submit your own record; its owner submits this one")
    superior = await _superior_of(session, runtime, record["owner_id"])
    await _ensure_open(session, runtime, record)
    domain.ensure_can_submit(superior)
    _, state = await _latest(session, record)
    period = _period_of_record(record)
    principles, row = await principles_for(session, period)
    state = replace(state, principles=principles)
    now = utcnow()
    late = domain.is_late(row["due_date"] if row else None, now)
    record = await _append_version(
        session, record, "submission", state, principal.user_id, at=now, submitted_to=superior, note=note or None,
        record_values={"status": "submitted", "last_submitted_version": record["version"] + 1,
                       "submitted_to": superior, "submitted_at": now},
        change={"submitted_to": str(superior), "late": late})
    uow.publish(_event("submitted", record, ForecastSubmitted(
        record=_record_payload(record, state), submitted_by=principal.user_id, submitted_to=superior, late=late,
        note=note or None, children=_children_payload(state))))
    return await _present_full(session, runtime, record)


async def record_channel_forecast(uow: UnitOfWork, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                                  channel: str, amount, note: str | None, if_match: str | None) -> dict:
    """The business unit records a channel's forecast (渠道预测) beside its own."""
    session = uow.session
    record = await _load_for_change(
        session, runtime, principal, record_id, if_match,
        owner_or_admin="only the business unit owning this record, or an admin, records channel forecasts")
    domain.ensure_top_of_chain(await _superior_of(session, runtime, record["owner_id"]), "record channel forecasts")
    await _ensure_open(session, runtime, record)
    _, state = await _latest(session, record)
    principles, _ = await principles_for(session, _period_of_record(record))
    entry = ChannelForecast(domain.normalise_channel(channel), to_cents(amount), note or None, principal.user_id,
                            utcnow())
    replaced = next((ch.amount_cents for ch in state.channels if ch.channel.casefold() == entry.channel.casefold()),
                    None)
    new_state = domain.record_channel(state, principles, entry)
    record = await _append_version(
        session, record, "channel", new_state, principal.user_id, note=note or None,
        change={"channel": entry.channel, "amount_cents": entry.amount_cents, "replaced_cents": replaced})
    uow.publish(_event("channel_forecast_recorded", record, ForecastChannelRecorded(
        record=_record_payload(record, new_state), channel=_channel_payload(entry))))
    return await _present_full(session, runtime, record)


async def publish(uow: UnitOfWork, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                  note: str | None, if_match: str | None) -> dict:
    """The business unit publishes the final forecast to production planning (生产计划): once per
    record; the period (and currency) is then locked for the whole subtree."""
    session = uow.session
    record = await _load_for_change(
        session, runtime, principal, record_id, if_match,
        owner_or_admin="only the business unit owning this record, or an admin, publishes it")
    domain.ensure_top_of_chain(await _superior_of(session, runtime, record["owner_id"]), "publish")
    await _ensure_open(session, runtime, record)
    _, state = await _latest(session, record)
    principles, _ = await principles_for(session, _period_of_record(record))
    state = replace(state, principles=principles)
    now = utcnow()
    record = await _append_version(
        session, record, "publication", state, principal.user_id, at=now, note=note or None,
        record_values={"status": "published", "published_version": record["version"] + 1, "published_at": now},
        change={"channels": len(state.channels), "children": len(state.children)})
    uow.publish(_event("published", record, ForecastPublished(
        record=_record_payload(record, state), published_by=principal.user_id, published_at=now, note=note or None,
        channel_forecasts=[_channel_payload(ch) for ch in state.channels], children=_children_payload(state),
        missing=list(state.missing))))
    return await _present_full(session, runtime, record)


# ================================================================== presentation
def _money_figures(figures: dict) -> dict:
    return {c: from_cents(figures.get(c, 0)) for c in CATEGORIES}


def _lines(state: ForecastState) -> list[dict]:
    return [{"opportunity_id": x.opportunity_id, "account_id": x.account_id, "amount": from_cents(x.amount_cents),
             "category": x.category, "stage": x.stage, "status": x.status, "close_date": x.close_date}
            for x in state.lines]


def _children(state: ForecastState) -> list[dict]:
    return [{"record_id": c.record_id, "owner_id": c.owner_id, "version": c.version, "submitted_at": c.submitted_at,
             "figures": _money_figures(c.figures), "forecast_amount": from_cents(c.forecast_cents),
             "upside_amount": from_cents(c.upside_cents)} for c in state.children]


def _channels(state: ForecastState) -> list[dict]:
    return [_channel_payload(ch).model_dump() for ch in state.channels]


def _amounts(row, prefix: str = "") -> dict:
    """Figures, forecast and upside amount of a version row (its columns optionally prefixed)."""
    return {"figures": {c: from_cents(row[f"{prefix}{col}"]) for c, col in FIGURE_COLUMNS.items()},
            "forecast_amount": from_cents(row[f"{prefix}forecast_cents"]),
            "upside_amount": from_cents(row[f"{prefix}upside_cents"])}


def _summary(record, current: dict, submitted: dict | None) -> dict:
    return {
        "id": record["id"], "owner_id": record["owner_id"], "period": record["period"],
        "period_start": record["period_start"], "period_end": record["period_end"], "currency": record["currency"],
        "status": record["status"], "version": record["version"], **current,
        "last_submitted": None if submitted is None else {
            "version": record["last_submitted_version"], "submitted_to": record["submitted_to"],
            "submitted_at": record["submitted_at"], **submitted},
        "published_version": record["published_version"], "published_at": record["published_at"],
        "created_at": record["created_at"], "updated_at": record["updated_at"],
    }


async def _present_full(session: AsyncSession, runtime: Runtime, record: dict) -> dict:
    current, state = await _latest(session, record)
    submitted = None
    if record["last_submitted_version"] is not None:
        submitted = (await session.execute(select(versions).where(
            versions.c.record_id == record["id"],
            versions.c.number == record["last_submitted_version"]))).mappings().one()
    published = await _published_above(session, runtime, record["owner_id"], _period_of_record(record),
                                       record["currency"]) \
        if record["status"] != "published" else record["id"]
    taken = {c.owner_id: (c.record_id, c.version) for c in state.children}
    newer = []
    if record["status"] != "published":
        for r in await _direct_reports(session, runtime, record["owner_id"], _period_of_record(record),
                                       record["currency"]):
            if r["number"] is not None and taken.get(r["owner_id"]) != (r["record_id"], r["number"]):
                newer.append(r["owner_id"])
    return {**_summary(record, _amounts(current), _amounts(submitted) if submitted is not None else None),
            "counted_categories": list(state.principles.counted), "upside_categories": list(state.principles.upside),
            "own_figures": _money_figures(state.own),
            "adjustments": {c: from_cents(v) for c, v in state.adjustments.items() if v},
            "lines": _lines(state), "children": _children(state), "missing": list(state.missing),
            "live_rollup": _money_figures(state.live_rollup) if state.live_rollup is not None else None,
            "channel_forecasts": _channels(state), "locked": published is not None,
            "locked_by_record_id": published, "newer_child_submissions": newer}


def _present_version(row) -> dict:
    state = ForecastState.from_json(row["state"])
    change = row["change"] or {}
    kind = row["kind"]
    adjustment = None
    if kind == "adjustment":
        adjustment = {"category": change["category"], "amount_before": from_cents(change["before_cents"]),
                      "amount_after": from_cents(change["after_cents"]), "delta": from_cents(change["delta_cents"])}
    channel = None
    if kind == "channel":
        channel = next((_channel_payload(ch).model_dump() for ch in state.channels
                        if ch.channel == change["channel"]), None)
    return {
        "record_id": row["record_id"], "number": row["number"], "kind": kind, "by": row["created_by"],
        "at": row["created_at"], "reason": row["reason"], "note": row["note"], **_amounts(row),
        "counted_categories": list(state.principles.counted), "upside_categories": list(state.principles.upside),
        "adjustment": adjustment, "submitted_to": row["submitted_to"],
        "late": change.get("late") if kind == "submission" else None, "channel": channel,
        "trimmed_adjustments": {c: from_cents(v) for c, v in change.get("trimmed_adjustments", {}).items()}
        if kind == "refresh" else None,
        "adjustments": {c: from_cents(v) for c, v in state.adjustments.items() if v},
        "lines": _lines(state), "children": _children(state), "missing": list(state.missing),
        "live_rollup": _money_figures(state.live_rollup) if state.live_rollup is not None else None,
        "channel_forecasts": _channels(state),
    }


# ================================================================== use cases: reads
async def get_record(session: AsyncSession, runtime: Runtime, principal: Principal, record_id: uuid.UUID) -> dict:
    return await _present_full(session, runtime, await _load(session, runtime, principal, record_id))


async def list_versions(session: AsyncSession, runtime: Runtime, principal: Principal,
                        record_id: uuid.UUID) -> dict:
    await _load(session, runtime, principal, record_id)
    rows = (await session.execute(select(versions).where(versions.c.record_id == record_id)
                                  .order_by(versions.c.number))).mappings().all()
    return {"items": [_present_version(r) for r in rows]}


async def get_version(session: AsyncSession, runtime: Runtime, principal: Principal, record_id: uuid.UUID,
                      number: int) -> dict:
    await _load(session, runtime, principal, record_id)
    row = (await session.execute(select(versions).where(versions.c.record_id == record_id,
                                                        versions.c.number == number))).mappings().first()
    if row is None:
        raise NotFound(f"forecast record {record_id} has no version {number}")
    return _present_version(row)


def _subtree(runtime: Runtime, root: uuid.UUID):
    users = runtime.tables.user_replica
    tree = select(literal(root, users.c.id.type).label("id")).cte("tree", recursive=True)
    return tree.union(select(users.c.id).where(users.c.superior_id == tree.c.id))  # UNION: stops on a cycle


def _records_query():
    """Each record with its current version's and its last submitted version's figures (sub_…)."""
    current, submitted = versions.alias("cur"), versions.alias("sub")
    columns = [records]
    for alias, prefix in ((current, ""), (submitted, "sub_")):
        columns += [alias.c[col].label(f"{prefix}{col}") for col in (*FIGURE_COLUMNS.values(), "forecast_cents",
                                                                     "upside_cents")]
    return (select(*columns)
            .select_from(records.join(current, and_(current.c.record_id == records.c.id,
                                                    current.c.number == records.c.version))
                         .outerjoin(submitted, and_(submitted.c.record_id == records.c.id,
                                                    submitted.c.number == records.c.last_submitted_version))))


def _submitted_to(principal: Principal, submitted_to: str) -> uuid.UUID:
    if submitted_to.strip().lower() == "me":
        return principal.user_id
    try:
        return uuid.UUID(submitted_to)
    except ValueError:
        raise ValidationProblem("submitted_to is 'me' or a user id", field="submitted_to") from None


async def _record_filters(session: AsyncSession, principal: Principal, *, period: str | None,
                          currency: str | None, owner: uuid.UUID | None, submitted_to: str | None,
                          status: str | None) -> list:
    """The list's filters as conditions, checked in the order the query parameters were always checked."""
    conditions = []
    if period is not None:
        conditions.extend(_same_range(records, await period_of(session, period)))
    if currency is not None:
        conditions.append(records.c.currency == validate_currency(currency))
    if owner is not None:
        conditions.append(records.c.owner_id == owner)
    if submitted_to is not None:
        conditions.append(records.c.submitted_to == _submitted_to(principal, submitted_to))
    if status is not None:
        conditions.append(records.c.status == status)
    return conditions


def _present_listed(r) -> dict:
    return _summary(r, _amounts(r), _amounts(r, "sub_") if r["last_submitted_version"] is not None else None)


async def list_records(session: AsyncSession, runtime: Runtime, principal: Principal, *, period: str | None,
                       currency: str | None, owner: uuid.UUID | None, submitted_to: str | None,
                       status: str | None, limit: int, cursor: str | None) -> dict:
    """Records the caller may see (their own and their subtree's; all for an admin), in id order."""
    repo = Repository(session)
    query = _records_query()
    if not principal.is_admin:
        query = query.where(records.c.owner_id.in_(select(_subtree(runtime, principal.user_id).c.id)))
    conditions = await _record_filters(session, principal, period=period, currency=currency, owner=owner,
                                       submitted_to=submitted_to, status=status)
    if conditions:
        query = query.where(*conditions)
    items, next_cursor = await repo.paginate(query, keys=[records.c.id], limit=limit,
                                             cursor=cursor, present=_present_listed)
    return {"items": items, "next_cursor": next_cursor}


def _depth_below(superior_of: dict, node: uuid.UUID, person: uuid.UUID) -> int:
    """How many levels `person` is below `node` (0 for the node; stops on a cycle)."""
    d, current, seen = 0, person, set()
    while current != node and current in superior_of and current not in seen:
        seen.add(current)
        current, d = superior_of[current], d + 1
    return d


def _accuracy_row(s, who, actual: int, depth: int) -> dict:
    return {"owner_id": s.owner_id, "name": who.name if who else None, "role": who.role if who else None,
            "depth": depth, "record_id": s.id, "version": s.number, "kind": s.kind,
            "forecast_amount": from_cents(s.forecast_cents), "actual_won": from_cents(actual),
            "difference": from_cents(actual - s.forecast_cents),
            "accuracy_pct": domain.accuracy_pct(s.forecast_cents, actual)}


async def accuracy(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                   period_text: str, currency: str | None) -> dict:
    """Last submitted (or published) forecast against actual closed-won, for the node and everyone
    below it who submitted for the period. The actual of a person is the won business of their
    whole subtree (their own for a rep), since that is what their forecast covered."""
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    await ensure_node_visible(session, runtime, principal, node)
    users = runtime.tables.user_replica
    tree = _subtree(runtime, node)
    people = {r.id: r for r in (await session.execute(
        select(users.c.id, users.c.superior_id, users.c.name, users.c.role).join(tree, users.c.id == tree.c.id)))}
    won = dict((await session.execute(
        select(facts.c.owner_id, func.sum(facts.c.amount_cents)).join(tree, facts.c.owner_id == tree.c.id)
        .where(facts.c.status == "won", facts.c.currency == currency, facts.c.close_date >= period.start,
               facts.c.close_date < period.end).group_by(facts.c.owner_id))).all())
    forecast_version = versions.alias("forecast")
    submissions = (await session.execute(
        select(records.c.owner_id, records.c.id, forecast_version.c.number, forecast_version.c.kind,
               forecast_version.c.forecast_cents)
        .join(tree, records.c.owner_id == tree.c.id)
        .join(forecast_version, and_(forecast_version.c.record_id == records.c.id,
                                     forecast_version.c.number == func.coalesce(records.c.published_version,
                                                                                records.c.last_submitted_version)))
        .where(*_same_range(records, period), records.c.currency == currency))).all()
    superior_of = {p: people[p].superior_id for p in people}
    superior_of.setdefault(node, None)
    totals = domain.subtree_totals(superior_of, {k: int(v or 0) for k, v in won.items()})
    rows = [_accuracy_row(s, people.get(s.owner_id), totals.get(s.owner_id, 0),
                          _depth_below(superior_of, node, s.owner_id)) for s in submissions]
    rows.sort(key=lambda r: (r["depth"], r["name"] or "", str(r["owner_id"])))
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "final": period.end <= utcnow().date(), "formula": ACCURACY_FORMULA,
            "people": rows}
