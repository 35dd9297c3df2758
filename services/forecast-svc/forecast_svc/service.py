"""Use cases of forecast-svc."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.errors import NotFound
from kam_shared.hierarchy import subtree_ids
from kam_shared.money import validate_currency

from .domain.periods import parse_period
from .domain.rollup import Group, rollup_from_groups
from .models import opportunity_facts as facts


async def rollup_for(session: AsyncSession, runtime: Runtime, principal: Principal, node: uuid.UUID,
                     period_text: str, currency: str | None) -> dict:
    period = parse_period(period_text)
    currency = validate_currency(currency or runtime.settings.kam_reporting_currency)
    users = runtime.tables.user_replica
    known = await session.scalar(select(users.c.id).where(users.c.id == node))
    if node != principal.user_id and (known is None or not await runtime.visibility.can_see(session, principal, node)):
        raise NotFound(f"node {node} not found")
    owners = await subtree_ids(session, users, node)
    in_scope = (facts.c.owner_id.in_(owners), facts.c.close_date >= period.start, facts.c.close_date < period.end)
    rows = (await session.execute(
        select(facts.c.status, facts.c.stage, func.count(), func.sum(facts.c.amount_cents),
               func.sum(facts.c.amount_cents * facts.c.probability))
        .where(*in_scope, facts.c.currency == currency).group_by(facts.c.status, facts.c.stage))).all()
    others = (await session.scalars(select(facts.c.currency).distinct().where(
        *in_scope, facts.c.currency != currency))).all()
    status = runtime.tables.read_model_status
    as_of = await session.scalar(select(status.c.last_event_time).where(status.c.name == runtime.settings.service_name))
    rollup = rollup_from_groups([Group(r[0], r[1], r[2], r[3] or 0, r[4] or 0) for r in rows])
    return {"node": node, "period": period.label, "period_start": period.start, "period_end": period.end,
            "currency": currency, "other_currencies": sorted(others), "as_of": as_of, **rollup.__dict__}
