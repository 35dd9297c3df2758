"""The account replica follows kam.account.events: every event that carries the account's state
(created, updated, reassigned, classified) keeps its name and owner current, so the replica's answer
to "may the caller see this account?" follows reassignments; team_changed also brings the account
team, whose members see the account's opportunities (a merge also re-points opportunities: see
opportunities/consumers.py)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import AccountTeamChanged, CloudEvent
from kam_shared.events.account import AccountClassified, AccountCreated, AccountReassigned, AccountUpdated

from .repository import AccountRepository


async def on_account_state(session: AsyncSession, event: CloudEvent,
                           payload: AccountCreated | AccountUpdated | AccountReassigned | AccountClassified) -> None:
    a = payload.account
    await AccountRepository(session).upsert(a.id, a.name, a.owner_id, a.version, merged_into=a.merged_into_id)


async def on_account_team_changed(session: AsyncSession, event: CloudEvent, payload: AccountTeamChanged) -> None:
    """The account (name, owner) and its whole team, guarded by the account version the event carries."""
    a = payload.account
    repo = AccountRepository(session)
    await repo.upsert(a.id, a.name, a.owner_id, a.version, merged_into=a.merged_into_id)
    await repo.replace_team(a.id, a.version, [(m.user_id, m.role) for m in payload.members])
