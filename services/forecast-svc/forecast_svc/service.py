"""Use cases of forecast-svc."""
from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import Date, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.consumer import exclusive_read_model_lock
from kam_shared.errors import Forbidden, NotFound, UpstreamUnavailable
from kam_shared.events import utcnow
from kam_shared.peers import peer_client, snapshot
from kam_shared.replicas import upsert_versioned_many
from kam_shared.money import to_cents, validate_currency

from .domain.periods import parse_period
from .domain.rollup import Group, rollup_from_groups
from .models import opportunity_facts as facts
from .models import rollup_cells as cells
from .models import stage_probabilities


async def rollup_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                     period_text: str, currency: str | None) -> dict:
    period = parse_period(period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    users = runtime.tables.user_replica
    known = await session.scalar(select(users.c.id).where(users.c.id == node))
    if node != principal.user_id and (known is None or not await runtime.visibility.can_see(session, principal, node)):
        raise NotFound(f"node {node} not found")
    # The subtree and the cells in one round trip: a recursive CTE joined to the pre-aggregated cells.
    tree = select(literal(node, users.c.id.type).label("id")).cte("tree", recursive=True)
    tree = tree.union(select(users.c.id).where(users.c.superior_id == tree.c.id))  # UNION: stops on a cycle
    in_scope = (cells.c.owner_id.in_(select(tree.c.id)), cells.c.month >= period.start, cells.c.month < period.end)
    rows = (await session.execute(
        select(cells.c.status, cells.c.stage, func.sum(cells.c.count), func.sum(cells.c.amount_cents),
               func.sum(cells.c.weighted_cents_x100))
        .where(*in_scope, cells.c.currency == currency).group_by(cells.c.status, cells.c.stage))).all()
    others = (await session.scalars(select(cells.c.currency).distinct().where(
        *in_scope, cells.c.currency != currency, cells.c.count > 0))).all()
    status = runtime.tables.read_model_status
    as_of = await session.scalar(select(status.c.last_event_time).where(status.c.name == runtime.settings.service_name))
    rollup = rollup_from_groups([Group(r[0], r[1], r[2], r[3] or 0, r[4] or 0) for r in rows])
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "other_currencies": sorted(others), "as_of": as_of, **rollup.__dict__}


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
                      updated_at=dt.datetime.fromisoformat(o["updated_at"].replace("Z", "+00:00")))
                 async for o in snapshot(runtime, "opportunity-svc", "/v1/opportunities", principal.token)]
    model_version, stages = await stage_model_snapshot(runtime, principal.token)
    users = runtime.tables.user_replica
    async with runtime.db.session() as session, session.begin():
        await exclusive_read_model_lock(session, runtime.settings.service_name)
        await upsert_versioned_many(session, stage_probabilities, [
            dict(stage=s["number"], probability=s["probability"], version=model_version)
            for s in stages if s["number"] <= 7], key="stage")
        await upsert_versioned_many(session, users, users_rows)
        await upsert_versioned_many(session, facts, fact_rows)
        in_snapshot = {r["id"] for r in fact_rows}
        stale = [r.id for r in (await session.execute(select(facts.c.id, facts.c.updated_at))).all()
                 if r.id not in in_snapshot and r.updated_at < started]
        for start in range(0, len(stale), 1000):
            await session.execute(delete(facts).where(facts.c.id.in_(stale[start:start + 1000])))
        await session.execute(delete(cells))
        month = (func.date_trunc("month", facts.c.close_date).cast(Date) if session.bind.dialect.name == "postgresql"
                 else func.date(facts.c.close_date, "start of month"))
        await session.execute(insert(cells).from_select(
            ["owner_id", "month", "currency", "status", "stage", "count", "amount_cents", "weighted_cents_x100"],
            select(facts.c.owner_id, month, facts.c.currency, facts.c.status, facts.c.stage, func.count(),
                   func.sum(facts.c.amount_cents), func.sum(facts.c.amount_cents * facts.c.probability))
            .group_by(facts.c.owner_id, month, facts.c.currency, facts.c.status, facts.c.stage)))
    return {"users": len(users_rows), "opportunities": len(fact_rows), "removed": len(stale),
            "started_at": started, "took_ms": round((time.perf_counter() - clock) * 1000, 1)}
