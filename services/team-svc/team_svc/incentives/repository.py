"""All SQL of the incentives slice: plans and their participants, cost analyses, payouts and their
revisions; and the two reads of other slices' tables it needs (approved quotas, people's names)."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, insert, select, update

from kam_shared.repository import Repository

from ..common.models import users
from ..quotas.models import quotas
from .models import incentive_cost_analyses, incentive_plan_participants, incentive_plans, payout_revisions, payouts


class Incentives(Repository):
    # ---------------------------------------------------------------------------------- plans
    async def participants(self, plan_id: uuid.UUID) -> list[uuid.UUID]:
        return list((await self.session.scalars(select(incentive_plan_participants.c.user_id)
                                                .where(incentive_plan_participants.c.plan_id == plan_id)
                                                .order_by(incentive_plan_participants.c.user_id))).all())

    async def plan_row(self, plan_id: uuid.UUID, *, lock: bool = False):
        query = select(incentive_plans).where(incentive_plans.c.id == plan_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def add_plan(self, values: dict) -> None:
        await self.session.execute(insert(incentive_plans).values(**values))

    async def save_plan(self, plan_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        """Writes `values` if the plan is still at `expected_version`; False if it is not."""
        result = await self.session.execute(update(incentive_plans).where(
            incentive_plans.c.id == plan_id, incentive_plans.c.version == expected_version).values(**values))
        return result.rowcount == 1

    async def set_participants(self, plan_id: uuid.UUID, user_ids: list[uuid.UUID]) -> None:
        await self.session.execute(delete(incentive_plan_participants).where(
            incentive_plan_participants.c.plan_id == plan_id))
        if user_ids:
            await self.session.execute(insert(incentive_plan_participants),
                                       [dict(plan_id=plan_id, user_id=u) for u in user_ids])

    async def plan_page(self, *, limit: int, cursor: str | None, status: str | None,
                        visible: set[uuid.UUID] | None) -> tuple[list, str | None]:
        query = select(incentive_plans)
        if status:
            query = query.where(incentive_plans.c.status == status)
        if visible is not None:
            query = query.where(incentive_plans.c.id.in_(select(incentive_plan_participants.c.plan_id).where(
                incentive_plan_participants.c.user_id.in_(visible))))
        return await self.paginate(query, keys=[incentive_plans.c.id], limit=limit, cursor=cursor)

    async def add_cost_analysis(self, values: dict) -> None:
        await self.session.execute(insert(incentive_cost_analyses).values(**values))

    async def latest_cost_analysis(self, plan_id: uuid.UUID):
        return (await self.session.execute(select(incentive_cost_analyses).where(
            incentive_cost_analyses.c.plan_id == plan_id).order_by(incentive_cost_analyses.c.id.desc()).limit(1))
        ).mappings().first()

    async def cost_analyses(self, plan_id: uuid.UUID) -> list:
        return (await self.session.execute(select(incentive_cost_analyses).where(
            incentive_cost_analyses.c.plan_id == plan_id).order_by(incentive_cost_analyses.c.id))).mappings().all()

    # -------------------------------------------------------------------- other slices' data
    async def quota_of(self, user_id: uuid.UUID, period_label: str):
        """The person's quota for the period: (approved_amount_cents, currency), or None."""
        return (await self.session.execute(select(quotas.c.approved_amount_cents, quotas.c.currency).where(
            quotas.c.owner_kind == "user", quotas.c.owner_id == user_id, quotas.c.period == period_label))).first()

    async def names(self, user_ids: list[uuid.UUID]) -> dict:
        if not user_ids:
            return {}
        return dict((await self.session.execute(select(users.c.id, users.c.name)
                                                .where(users.c.id.in_(user_ids)))).all())

    # -------------------------------------------------------------------------------- payouts
    async def payout_row(self, payout_id: uuid.UUID, *, lock: bool = False):
        query = select(payouts).where(payouts.c.id == payout_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def payout_of(self, plan_id: uuid.UUID, user_id: uuid.UUID, period: str, *, lock: bool = False):
        query = select(payouts).where(payouts.c.plan_id == plan_id, payouts.c.user_id == user_id,
                                      payouts.c.period == period)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def add_payout(self, values: dict) -> None:
        await self.session.execute(insert(payouts).values(**values))

    async def save_payout(self, payout_id: uuid.UUID, expected_version: int, values: dict) -> bool:
        """Writes `values` if the payout is still at `expected_version`; False if it is not."""
        result = await self.session.execute(update(payouts).where(payouts.c.id == payout_id,
                                                                  payouts.c.version == expected_version)
                                            .values(**values))
        return result.rowcount == 1

    async def add_payout_revisions(self, rows: list[dict]) -> None:
        if rows:
            await self.session.execute(insert(payout_revisions), rows)

    async def payout_revisions(self, payout_id: uuid.UUID) -> list:
        return (await self.session.execute(select(payout_revisions).where(payout_revisions.c.payout_id == payout_id)
                                           .order_by(payout_revisions.c.id))).mappings().all()

    async def payout_page(self, *, limit: int, cursor: str | None, filters: dict,
                          visible: set[uuid.UUID] | None, present) -> tuple[list, str | None]:
        query = select(payouts)
        for column, value in filters.items():
            if value is not None:
                query = query.where(payouts.c[column] == value)
        if visible is not None:
            query = query.where(payouts.c.user_id.in_(visible))
        return await self.paginate(query, keys=[payouts.c.id], limit=limit, cursor=cursor, present=present)
