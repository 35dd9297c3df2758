"""All SQL of the capacity view: the account and opportunity replicas, the territories, names."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from kam_shared.repository import Repository

from ..common.models import read_model_status_table, users
from ..replicas.models import account_facts, opportunity_facts
from ..territories.models import territories


class CapacityFacts(Repository):
    async def live_accounts(self) -> list:
        """Every account that has not been merged into another."""
        return (await self.session.execute(select(account_facts.c.id, account_facts.c.owner_id, account_facts.c.region,
                                                  account_facts.c.industry, account_facts.c.employees)
                                           .where(account_facts.c.merged_into.is_(None)))).mappings().all()

    async def open_pipeline(self, currency: str) -> list:
        """(account, owner, count, cents, cents × probability) of the open opportunities in `currency`."""
        return (await self.session.execute(
            select(opportunity_facts.c.account_id, opportunity_facts.c.owner_id, func.count(),
                   func.sum(opportunity_facts.c.amount_cents),
                   func.sum(opportunity_facts.c.amount_cents * opportunity_facts.c.probability))
            .where(opportunity_facts.c.status == "open", opportunity_facts.c.currency == currency)
            .group_by(opportunity_facts.c.account_id, opportunity_facts.c.owner_id))).all()

    async def territories(self) -> list:
        return (await self.session.execute(select(territories.c.id, territories.c.name, territories.c.parent_id,
                                                  territories.c.owner_id, territories.c.active)
                                           .order_by(territories.c.path))).mappings().all()

    async def names(self, user_ids: list[uuid.UUID]) -> dict:
        if not user_ids:
            return {}
        return dict((await self.session.execute(select(users.c.id, users.c.name)
                                                .where(users.c.id.in_(user_ids)))).all())

    async def last_event_time(self, service_name: str):
        status = (await self.session.execute(select(read_model_status_table.c.last_event_time)
                                             .where(read_model_status_table.c.name == service_name))).first()
        return status.last_event_time if status else None
