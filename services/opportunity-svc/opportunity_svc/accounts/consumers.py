"""The account replica follows kam.account.events (a merge also re-points opportunities: see
opportunities/consumers.py)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import AccountCreated, CloudEvent

from .repository import AccountRepository


async def on_account_created(session: AsyncSession, event: CloudEvent, payload: AccountCreated) -> None:
    a = payload.account
    await AccountRepository(session).upsert(a.id, a.name, a.owner_id, a.version)
