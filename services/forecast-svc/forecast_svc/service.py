"""Use cases of forecast-svc."""
from __future__ import annotations

import uuid

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.errors import NotFound
from kam_shared.money import validate_currency

from .domain.periods import parse_period
from .domain.rollup import Group, rollup_from_groups
from .models import rollup_cells as cells


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
