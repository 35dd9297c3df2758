"""All SQL of the account replica."""
from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, insert, select, update

from kam_shared.replicas import upsert_versioned
from kam_shared.repository import Repository

from .models import account_replica, account_team_replica

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

    async def replace_team(self, account_id: uuid.UUID, team_version: int,
                           members: list[tuple[uuid.UUID, str]]) -> bool:
        """The account's team as of account version `team_version`; False (nothing written) when the
        replica already holds that team version or a newer one."""
        moved = await self.session.execute(update(account_replica).where(
            account_replica.c.id == account_id, account_replica.c.team_version < team_version)
            .values(team_version=team_version))
        if moved.rowcount != 1:
            return False
        await self.session.execute(delete(account_team_replica).where(account_team_replica.c.account_id == account_id))
        if members:
            await self.session.execute(insert(account_team_replica), [
                dict(account_id=account_id, user_id=user_id, role=role) for user_id, role in members])
        return True

    async def on_account_team(self, account_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        return await self.session.scalar(select(account_team_replica.c.user_id).where(
            account_team_replica.c.account_id == account_id, account_team_replica.c.user_id == user_id)) is not None
