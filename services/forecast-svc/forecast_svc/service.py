"""Use cases of forecast-svc."""
from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork, check_if_match
from kam_shared.auth import Principal
from kam_shared.consumer import exclusive_read_model_lock
from kam_shared.errors import Forbidden, NotFound, UpstreamUnavailable, ValidationProblem
from kam_shared.events import DomainEvent, FieldChange, utcnow
from kam_shared.events.forecast import CategoryMappingChanged, StageCategory
from kam_shared.peers import peer_client, snapshot
from kam_shared.replicas import upsert_versioned_many
from kam_shared.money import to_cents, validate_currency

from .domain.categories import effective_category, validate_mapping
from .domain.periods import Period, parse_period
from .domain.rollup import Group, rollup_from_groups
from .cells import hierarchy_changed
from .cells import recompute as recompute_cells
from .models import category_mapping, fiscal_calendar
from .models import opportunity_facts as facts
from .models import rollup_cells as cells
from .models import stage_probabilities


async def period_of(session: AsyncSession, text: str) -> Period:
    """Parse a period label; fiscal labels (FY2026, FY2026-Q1) use the replicated fiscal calendar."""
    if not text.strip().upper().startswith("FY"):
        return parse_period(text)  # calendar periods need no calendar: one round trip less per read
    start_month = await session.scalar(select(fiscal_calendar.c.fiscal_year_start_month)) or 1
    return parse_period(text, start_month)


async def category_map(session: AsyncSession) -> dict[int, str]:
    """Open stage → forecast category, as configured (forecast principles)."""
    return dict((await session.execute(select(category_mapping.c.stage, category_mapping.c.category))).all())


async def ensure_node_visible(session: AsyncSession, runtime: Runtime, principal: Principal,
                              node: uuid.UUID) -> None:
    """A node is a user of the replicated hierarchy the principal may see; anything else is 404."""
    if node == principal.user_id:
        return
    users = runtime.tables.user_replica
    known = await session.scalar(select(users.c.id).where(users.c.id == node))
    if known is None or not await runtime.visibility.can_see(session, principal, node):
        raise NotFound(f"node {node} not found")


async def own_opportunities(session: AsyncSession, owner_id: uuid.UUID, period: Period, currency: str,
                            confirmed_only: bool = True) -> list[dict]:
    """The opportunities one person is primary owner of, closing in the period, in one currency,
    each with its effective forecast category (the pre-fill of a rep's forecast record)."""
    mapping = await category_map(session)
    query = select(facts).where(facts.c.owner_id == owner_id, facts.c.currency == currency,
                                facts.c.close_date >= period.start, facts.c.close_date < period.end)
    if confirmed_only:
        query = query.where(facts.c.confirmed.is_(True))
    rows = (await session.execute(query.order_by(facts.c.close_date, facts.c.id))).mappings().all()
    return [dict(r, category=effective_category(r["status"], r["stage"], r["category_override"], mapping))
            for r in rows]


async def rollup_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                     period_text: str, currency: str | None, confirmed_only: bool = False) -> dict:
    """The node's subtree figures for the period: its own cells (see cells.py), nothing else."""
    period = await period_of(session, period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    # What every roll-up needs besides the cells, in one read: the stage mapping, `as_of`, and
    # whether the node is known. Admins and readers of their own node need nothing more.
    status, users = runtime.tables.read_model_status, runtime.tables.user_replica
    as_of_now = (select(status.c.last_event_time).where(status.c.name == runtime.settings.service_name)
                 .scalar_subquery())
    known = select(users.c.id).where(users.c.id == node).scalar_subquery()
    context = (await session.execute(select(category_mapping.c.stage, category_mapping.c.category,
                                            as_of_now.label("as_of"), known.label("known")))).all()
    if node != principal.user_id and (not context or context[0].known is None
                                      or not await runtime.visibility.can_see(session, principal, node)):
        raise NotFound(f"node {node} not found")
    mapping = {r.stage: r.category for r in context}
    as_of = context[0].as_of if context else None
    # Every currency's cells of the node in one read (a few dozen rows): the asked-for currency is
    # summed, the others are only named.
    rows = (await session.execute(
        select(cells.c.currency, cells.c.status, cells.c.stage, cells.c.confirmed, cells.c.category_override,
               func.sum(cells.c.count), func.sum(cells.c.amount_cents), func.sum(cells.c.weighted_cents_x100))
        .where(cells.c.node_id == node, cells.c.month >= period.start, cells.c.month < period.end)
        .group_by(cells.c.currency, cells.c.status, cells.c.stage, cells.c.confirmed, cells.c.category_override)
    )).all()
    others = {r[0] for r in rows if r[0] != currency and r[5] > 0}
    rows = [r[1:] for r in rows if r[0] == currency]
    groups = [Group(status=r[0], stage=r[1], confirmed=bool(r[2]), category_override=r[3] or None, count=int(r[4]),
                    amount_cents=int(r[5] or 0), weighted_cents_x100=int(r[6] or 0)) for r in rows]
    rollup = rollup_from_groups(groups, mapping, confirmed_only)
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "confirmed_only": confirmed_only, "other_currencies": sorted(others),
            "as_of": as_of, **rollup.__dict__,
            "categories": [dict(c.__dict__) for c in rollup.categories]}


async def stage_model_snapshot(runtime: Runtime, token: str) -> tuple[int, list[dict]]:
    """opportunity-svc's stage model and its version (the ETag)."""
    async with peer_client(runtime, "opportunity-svc") as client:
        try:
            resp = await client.get("/v1/stage-model", headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"opportunity-svc unreachable ({type(exc).__name__})") from None
    if resp.status_code != 200:
        raise UpstreamUnavailable(f"opportunity-svc answered {resp.status_code} for /v1/stage-model")
    return int(resp.headers.get("etag", '"0"').strip('W/"') or 0), resp.json()


async def rebuild(runtime: Runtime, principal: Principal) -> dict:
    from .health.service import rebuild_quotas  # the health slice reads this module: import late

    """Rebuild every read model from the owners' HTTP snapshots (team-svc users, opportunity-svc
    opportunities), then recompute the roll-up cells from the facts.

    Events keep flowing meanwhile: snapshot rows are written with the same version guard as
    events (the newer of the two wins), facts missing from the snapshot are removed only if they
    predate the rebuild, and the cells are recomputed under an exclusive lock that no event
    transaction of any replica can interleave with. So the result equals the live stream's.
    """
    if not principal.is_admin:
        raise Forbidden("only an admin can rebuild read models")
    started = utcnow()
    clock = time.perf_counter()
    users_rows = [dict(id=uuid.UUID(u["id"]), email=u["email"], name=u["name"], role=u["role"],
                       superior_id=uuid.UUID(u["superior_id"]) if u.get("superior_id") else None,
                       active=u.get("active", True), version=u["version"])
                  async for u in snapshot(runtime, "team-svc", "/v1/users", principal.token)]
    fact_rows = [dict(id=uuid.UUID(o["id"]), account_id=uuid.UUID(o["account_id"]), owner_id=uuid.UUID(o["owner_id"]),
                      amount_cents=to_cents(Decimal(o["amount"])), currency=o["currency"],
                      close_date=dt.date.fromisoformat(o["close_date"]), stage=o["stage"],
                      probability=o["probability"], status=o["status"], version=o["version"],
                      updated_at=dt.datetime.fromisoformat(o["updated_at"].replace("Z", "+00:00")),
                      confirmed=bool(o.get("confirmed", False)), category_override=o.get("forecast_category"))
                 async for o in snapshot(runtime, "opportunity-svc", "/v1/opportunities", principal.token)]
    model_version, stages = await stage_model_snapshot(runtime, principal.token)
    users = runtime.tables.user_replica
    async with runtime.db.session() as session, session.begin():
        await exclusive_read_model_lock(session, runtime.settings.service_name)
        await upsert_versioned_many(session, stage_probabilities, [
            dict(stage=s["number"], probability=s["probability"], version=model_version)
            for s in stages if s["number"] <= 7], key="stage")
        await upsert_versioned_many(session, users, users_rows)
        await hierarchy_changed(session)
        await upsert_versioned_many(session, facts, fact_rows)
        in_snapshot = {r["id"] for r in fact_rows}
        stale = [r.id for r in (await session.execute(select(facts.c.id, facts.c.updated_at))).all()
                 if r.id not in in_snapshot and r.updated_at < started]
        for start in range(0, len(stale), 1000):
            await session.execute(delete(facts).where(facts.c.id.in_(stale[start:start + 1000])))
        await session.execute(delete(cells))
        await recompute_cells(session, users)
    quotas = await rebuild_quotas(runtime, principal)
    return {"users": len(users_rows), "opportunities": len(fact_rows), "removed": len(stale), "quotas": quotas,
            "started_at": started, "took_ms": round((time.perf_counter() - clock) * 1000, 1)}


async def get_category_mapping(session: AsyncSession) -> dict:
    rows = (await session.execute(select(category_mapping).order_by(category_mapping.c.stage))).mappings().all()
    version = max((r["version"] for r in rows), default=0)
    updated = max((r for r in rows if r["updated_at"] is not None), key=lambda r: r["updated_at"], default=None)
    return {"version": version, "mapping": [{"stage": r["stage"], "category": r["category"]} for r in rows],
            "updated_by": updated["updated_by"] if updated else None,
            "updated_at": updated["updated_at"] if updated else None}


async def put_category_mapping(uow: UnitOfWork, principal: Principal, proposed: list[dict],
                               if_match: str | None) -> dict:
    """Replace the stage → category mapping (admin). Roll-ups apply it at read time, so no stored
    figure is rewritten; subscribers learn of it from `category_mapping_changed`."""
    if not principal.is_admin:
        raise Forbidden("only an admin changes the forecast principles")
    stages = [p["stage"] for p in proposed]
    if len(stages) != len(set(stages)):
        raise ValidationProblem("each stage may appear once", field="mapping")
    wanted = validate_mapping({p["stage"]: p["category"] for p in proposed})
    session = uow.session
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(category_mapping.c.stage).with_for_update())
    current = await get_category_mapping(session)
    check_if_match(if_match, current["version"])
    before = {m["stage"]: m["category"] for m in current["mapping"]}
    changes = {str(s): FieldChange(before=before.get(s), after=c) for s, c in wanted.items() if before.get(s) != c}
    if not changes:
        return current
    version, now = current["version"] + 1, utcnow()
    await session.execute(delete(category_mapping))
    await session.execute(insert(category_mapping), [dict(stage=s, category=c, version=version,
                                                          updated_by=principal.user_id, updated_at=now)
                                                     for s, c in wanted.items()])
    uow.publish(DomainEvent("kam.forecast.category_mapping_changed.v1", "category-mapping", version,
                            CategoryMappingChanged(version=version, changed_by=principal.user_id, changes=changes,
                                                   mapping=[StageCategory(stage=s, category=c)
                                                            for s, c in wanted.items()])))
    await uow.commit()
    return {"version": version, "mapping": [{"stage": s, "category": c} for s, c in wanted.items()],
            "updated_by": principal.user_id, "updated_at": now}
