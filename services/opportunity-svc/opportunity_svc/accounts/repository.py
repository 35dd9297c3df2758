"""All SQL of the account replica."""
from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select

from kam_shared.replicas import upsert_versioned
from kam_shared.repository import Repository

from .models import account_replica

_ACCOUNT = select(account_replica.c.id, account_replica.c.owner_id, account_replica.c.merged_into).where(
    account_replica.c.id == bindparam("account_id"))


class AccountRepository(Repository):
    async def get(self, account_id: uuid.UUID):
        """(id, owner_id, merged_into) of the account, or None when the replica does not know it."""
        return (await self.session.execute(_ACCOUNT, {"account_id": account_id})).first()

    async def name(self, account_id: uuid.UUID) -> str | None:
        return await self.session.scalar(select(account_replica.c.name).where(account_replica.c.id == account_id))

    async def upsert(self, account_id: uuid.UUID, name: str, owner_id: uuid.UUID | None, version: int,
                     merged_into: uuid.UUID | None = None) -> None:
        """Version-guarded: an older state never overwrites a newer one."""
        await upsert_versioned(self.session, account_replica, dict(id=account_id, name=name, owner_id=owner_id,
                                                                   version=version, merged_into=merged_into))
