"""Use cases of account-svc."""
from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.errors import Conflict, Forbidden, NotFound
from kam_shared.events import utcnow

from .domain.accounts import Account
from .models import accounts


async def open_account(uow: UnitOfWork, runtime: Runtime, principal: Principal, *, name: str,
                       credit_code: str | None, industry: str | None, region: str | None,
                       owner_id: uuid.UUID | None) -> dict:
    session = uow.session
    owner_id = owner_id or principal.user_id
    if not await runtime.visibility.can_see(session, principal, owner_id):
        raise Forbidden("you can only assign accounts to yourself or to people in your team", field="owner_id")
    account = Account.open(name=name, credit_code=credit_code, industry=industry, region=region, owner_id=owner_id)
    existing = account.credit_code and await session.scalar(
        select(accounts.c.id).where(accounts.c.credit_code == account.credit_code))
    if existing:
        raise Conflict(f"an account with credit code {account.credit_code} already exists",
                       field="credit_code", existing_id=str(existing))
    now = utcnow()
    await session.execute(insert(accounts).values(**account.state().model_dump(), created_at=now, updated_at=now))
    uow.publish(*account.events)
    await uow.commit()
    return account.state().model_dump()


async def visible_account(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID):
    row = (await session.execute(select(accounts).where(accounts.c.id == account_id))).mappings().first()
    if row is None or not await runtime.visibility.can_see(session, principal, row["owner_id"]):
        raise NotFound(f"account {account_id} not found")
    return row
