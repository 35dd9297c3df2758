"""All SQL of the replicas slice: versioned upserts into the opportunity and account replicas."""
from __future__ import annotations

import uuid

from sqlalchemy import update

from kam_shared.replicas import upsert_versioned
from kam_shared.repository import Repository

from .models import account_facts, opportunity_facts


class Replicas(Repository):
    async def put_opportunity(self, values: dict) -> None:
        await upsert_versioned(self.session, opportunity_facts, values)

    async def put_account(self, values: dict) -> None:
        await upsert_versioned(self.session, account_facts, values)

    async def mark_merged(self, merged_id: uuid.UUID, into: uuid.UUID) -> None:
        await self.session.execute(update(account_facts).where(account_facts.c.id == merged_id)
                                   .values(merged_into=into))
