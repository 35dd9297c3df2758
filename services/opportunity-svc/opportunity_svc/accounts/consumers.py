"""The account replica follows kam.account.events (created, team_changed (a merge also re-points opportunities: see
opportunities/consumers.py)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import AccountCreated, AccountTeamChanged, CloudEvent

from .repository import AccountRepository


async def on_account_created(session: AsyncSession, event: CloudEvent, payload: AccountCreated) -> None:
    a = payload.account
    await AccountRepository(session).upsert(a.id, a.name, a.owner_id, a.version)


async def on_account_team_changed(session: AsyncSession, event: CloudEvent, payload: AccountTeamChanged) -> None:
    """The account (name, owner) and its whole team, guarded by the account version the event carries."""
    a = payload.account
    repo = AccountRepository(session)
    await repo.upsert(a.id, a.name, a.owner_id, a.version)
    await repo.replace_team(a.id, a.version, [(m.user_id, m.role) for m in payload.members])
