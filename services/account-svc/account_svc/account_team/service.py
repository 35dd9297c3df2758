"""Use cases of the account team: read it (anyone who sees the account), add a member or change their
role, remove one (who manages the account: its owner's line or an admin; a team member gets 403).
A member must exist and be active in the sales organisation (422 naming user_id). Each change is a
new version of the account with `kam.account.team_changed.v1` (the whole team), in one transaction."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.events import utcnow

from ..accounts.repository import AccountRepository
from ..accounts.service import load_for_change, save, visible_account
from ..common import directory
from .domain import remove_member, set_member


async def _names(session: AsyncSession, runtime: Runtime, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    users = runtime.tables.user_replica
    rows = (await session.execute(select(users.c.id, users.c.name).where(users.c.id.in_(ids)))).all()
    return {r.id: r.name for r in rows}


async def _present(session: AsyncSession, runtime: Runtime, account_id: uuid.UUID, owner_id, version: int,
                   team: list[dict]) -> dict:
    names = await _names(session, runtime, [owner_id, *(m["user_id"] for m in team)] if owner_id else
                         [m["user_id"] for m in team])
    owner = [{"user_id": owner_id, "name": names.get(owner_id), "role": "account_manager", "owner": True}] \
        if owner_id else []
    return {"account_id": account_id, "version": version,
            "members": owner + [{**m, "name": names.get(m["user_id"]), "owner": False} for m in team]}


async def team_of(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    row = await visible_account(session, runtime, principal, account_id)
    team = await AccountRepository(session).team(account_id)
    return await _present(session, runtime, account_id, row["owner_id"], row["version"],
                          [{k: m[k] for k in ("user_id", "role", "added_at", "added_by")} for m in team])


async def _change(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                  if_match: str | None, change) -> dict:
    session = uow.session
    account = await load_for_change(session, runtime, principal, account_id, if_match)
    account.require_live()
    repo = AccountRepository(session)
    team = [{k: m[k] for k in ("user_id", "role", "added_at", "added_by")} for m in await repo.team(account_id)]
    new_team, added, removed, role_changed = await change(account, team)
    if added or removed or role_changed:
        before = account.version
        account.team_changed(new_team, added=added, removed=removed, role_changed=role_changed,
                             by=principal.user_id)
        await repo.replace_team(account_id, new_team)
        await save(uow, account, before)
        team = new_team
    return await _present(session, runtime, account_id, account.owner_id, account.version, team)


async def set_team_member(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                          user_id: uuid.UUID, role: str, if_match: str | None) -> dict:
    async def change(account, team):
        new_team, what = set_member(team, user_id, role, owner_id=account.owner_id, by=principal.user_id,
                                    now=utcnow())
        if what is not None:  # only a real change asks the directory
            await directory.require_active_user(uow.session, runtime, principal, user_id, "user_id")
        return new_team, [user_id] if what == "added" else [], [], [user_id] if what == "role_changed" else []

    return await _change(uow, runtime, principal, account_id, if_match, change)


async def remove_team_member(uow: UnitOfWork, runtime: Runtime, principal: Principal, account_id: uuid.UUID,
                             user_id: uuid.UUID, if_match: str | None) -> dict:
    async def change(account, team):
        return remove_member(team, user_id), [], [user_id], []

    return await _change(uow, runtime, principal, account_id, if_match, change)
