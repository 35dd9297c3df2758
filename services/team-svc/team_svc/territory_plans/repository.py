"""All SQL of territory plans and rebalancing: plans, rebalances and placements; the territories,
quotas and account replica they are checked against."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import insert, select, update

from kam_shared.repository import Repository

from ..quotas.models import quotas
from ..replicas.models import account_facts
from ..territories.models import territories
from .models import territory_placements, territory_plans, territory_rebalances


class TerritoryPlans(Repository):
    # --------------------------------------------------------------------------------- plans
    async def add(self, values: dict) -> None:
        await self.session.execute(insert(territory_plans).values(**values))

    async def save(self, plan_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        result = await self.session.execute(update(territory_plans).where(
            territory_plans.c.id == plan_id, territory_plans.c.version == expected_version).values(**values))
        return result.rowcount == 1

    async def row(self, plan_id: uuid.UUID, *, lock: bool = False):
        query = select(territory_plans).where(territory_plans.c.id == plan_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def exists_for(self, territory_id: uuid.UUID, period: str) -> uuid.UUID | None:
        return await self.session.scalar(select(territory_plans.c.id).where(
            territory_plans.c.territory_id == territory_id, territory_plans.c.period == period))

    async def page(self, *, visible_owners: set[uuid.UUID] | None, territory_id: uuid.UUID | None,
                   period: str | None, status: str | None, limit: int, cursor: str | None):
        query = select(territory_plans)
        if visible_owners is not None:
            query = query.where(territory_plans.c.territory_id.in_(
                select(territories.c.id).where(territories.c.owner_id.in_(visible_owners))))
        for column, value in (("territory_id", territory_id), ("period", period), ("status", status)):
            if value is not None:
                query = query.where(territory_plans.c[column] == value)
        return await self.paginate(query, keys=[territory_plans.c.id], limit=limit, cursor=cursor)

    async def capacities(self, period: str) -> dict[uuid.UUID, int]:
        """The capacity each territory's plan for the period gives (rejected plans do not count)."""
        rows = await self.session.execute(select(territory_plans.c.territory_id, territory_plans.c.capacity_accounts)
                                          .where(territory_plans.c.period == period,
                                                 territory_plans.c.status != "rejected",
                                                 territory_plans.c.capacity_accounts.is_not(None)))
        return dict(rows.all())

    # ------------------------------------------------------------------ what plans refer to
    async def territory(self, territory_id: uuid.UUID):
        return (await self.session.execute(select(territories).where(territories.c.id == territory_id))
                ).mappings().first()

    async def territory_rows(self, ids: Iterable[uuid.UUID] | None = None) -> list:
        query = select(territories.c.id, territories.c.name, territories.c.owner_id, territories.c.active)
        if ids is not None:
            query = query.where(territories.c.id.in_(list(ids)))
        return list((await self.session.execute(query.order_by(territories.c.path))).mappings().all())

    async def quota_of(self, owner_kind: str, owner_id: uuid.UUID, period: str):
        return (await self.session.execute(select(quotas.c.id, quotas.c.amount_cents, quotas.c.status).where(
            quotas.c.owner_kind == owner_kind, quotas.c.owner_id == owner_id, quotas.c.period == period))
                ).mappings().first()

    async def live_account_ids(self, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        ids = list(ids)
        if not ids:
            return set()
        return set((await self.session.scalars(select(account_facts.c.id).where(
            account_facts.c.id.in_(ids), account_facts.c.merged_into.is_(None)))).all())

    # ------------------------------------------------------------------------------ rebalance
    async def placements(self) -> dict[uuid.UUID, uuid.UUID]:
        """Where rebalancing put accounts, in territories still active (else the rules place them)."""
        return dict((await self.session.execute(
            select(territory_placements.c.account_id, territory_placements.c.territory_id)
            .join(territories, territories.c.id == territory_placements.c.territory_id)
            .where(territories.c.active.is_(True)))).all())

    async def add_rebalance(self, values: dict, placements: list[dict]) -> None:
        await self.session.execute(insert(territory_rebalances).values(**values))
        await self.upsert(territory_placements, placements, key=["account_id"])

    async def rebalance(self, rebalance_id: uuid.UUID):
        return (await self.session.execute(select(territory_rebalances).where(
            territory_rebalances.c.id == rebalance_id))).mappings().first()
