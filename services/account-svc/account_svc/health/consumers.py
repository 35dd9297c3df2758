"""Won/lost opportunities arriving in the replica change an account's health: each opportunity
event is applied to classification's replica (the same ReadModel, so rebuilds agree) and then the
health of its account — and of the account it left, if it was re-pointed — is recomputed in the
same inbox transaction; a band change goes to the outbox in that transaction."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import CloudEvent, utcnow
from kam_shared.outbox import add_to_outbox

from ..classification.consumers import OPPORTUNITIES
from ..classification.models import opportunity_replica
from ..common.tables import plumbing
from .service import recompute

SOURCE = "/kam/account-svc"


async def on_opportunity(session: AsyncSession, event: CloudEvent, payload) -> None:
    state = payload.opportunity
    before = (await session.execute(select(opportunity_replica.c.account_id, opportunity_replica.c.status)
                                    .where(opportunity_replica.c.id == state.id))).first()
    if not await OPPORTUNITIES.apply(session, state):
        return  # stale or replayed: nothing changed
    if before is not None and before.status == state.status == "open" and before.account_id == state.account_id:
        # Health is scored from closed opportunities only (won revenue, lost deals): a change to an
        # open one that stays open on the same account (a stage move, an amount) moves no input.
        # Most opportunity events are of this kind; scoring for each cost several statements.
        return
    now = utcnow()
    events = []
    before_account = before.account_id if before is not None else None
    for account_id in dict.fromkeys(a for a in (state.account_id, before_account) if a is not None):
        changed = await recompute(session, account_id, now=now, cause=event.type)
        if changed is not None:
            events.append(changed)
    await add_to_outbox(session, plumbing, SOURCE, events)


# Replaces classification's handlers for the same event types (it applies the same ReadModel first).
HANDLERS = {event_type: on_opportunity for event_type in OPPORTUNITIES.event_types()}
