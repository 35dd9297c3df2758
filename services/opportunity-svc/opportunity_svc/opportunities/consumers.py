"""What the opportunity slice does with other services' events: an account merge re-points opportunities."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import AccountMerged, CloudEvent, DomainEvent, utcnow
from kam_shared.outbox import add_to_outbox

from ..accounts.repository import AccountRepository
from ..common.models import plumbing
from .repository import OpportunityRepository

SOURCE = "/kam/opportunity-svc"


async def on_account_merged(session: AsyncSession, event: CloudEvent, payload: AccountMerged) -> None:
    """Re-point every opportunity of the merged account to the survivor, each with its own event
    (written to the outbox in the inbox transaction), and keep a tombstone of the merged account
    so a late create on it is refused. Replays find nothing left to move."""
    survivor, merged = payload.survivor_id, payload.merged_id
    accounts = AccountRepository(session)
    a = payload.account
    await accounts.upsert(a.id, a.name, a.owner_id, a.version)
    old_name = await accounts.name(merged)
    await accounts.upsert(merged, old_name or f"(merged into {survivor})", None, payload.merged_version,
                          merged_into=survivor)
    repo = OpportunityRepository(session)
    cause = f"account {merged} merged into {survivor} (event {event.id})"
    now = utcnow()
    events: list[DomainEvent] = []
    for opp in await repo.of_account_for_update(merged):
        before_version = opp.version
        if opp.repoint_account(survivor, cause=cause, now=now):
            await repo.save(opp, before_version)
            events.extend(opp.events)
    await add_to_outbox(session, plumbing, SOURCE, events)

