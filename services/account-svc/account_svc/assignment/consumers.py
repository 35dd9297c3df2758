"""The territory replica: team-svc's territory events (created, updated: rules, owner, activation)
keep each territory's whole state, version-guarded. And territory rebalancing: each account a
rebalance moved goes to its new territory's account manager, recorded in the owner history."""
from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.events import TOPICS, CloudEvent, utcnow
from kam_shared.events.team import TerritoryState
from kam_shared.events.territory_plan import TerritoriesRebalanced
from kam_shared.outbox import add_to_outbox
from kam_shared.readmodel import ReadModel

from ..accounts.repository import AccountRepository, to_domain
from ..common.tables import plumbing
from .models import territory_replica

log = logging.getLogger("kam.account.assignment")


def _row(t: TerritoryState) -> dict:
    return dict(id=t.id, active=t.active, state=t.model_dump(mode="json"), version=t.version)


TERRITORIES = ReadModel(territory_replica, TOPICS["team"], "territory", TerritoryState, _row)


async def apply_rebalance(session: AsyncSession, event: CloudEvent, payload: TerritoriesRebalanced) -> None:
    """Reassign each moved account (the same reassignment a PATCH makes, with its event), in the
    handler's transaction; a merged or unknown account is skipped (its survivor was not moved)."""
    repo = AccountRepository(session)
    reason = f"territory rebalance {payload.id}" + (f": {payload.reason}" if payload.reason else "")
    events = []
    for move in payload.moves:
        row = await repo.row(move.account_id, lock=True)
        if row is None or row["merged_into_id"] is not None:
            log.info("rebalance %s: account %s is unknown or merged; not reassigned", payload.id, move.account_id)
            continue
        account = to_domain(row)
        before_version, before_owner = account.version, account.owner_id
        if account.reassign(move.to_owner_id, reason=reason, by=payload.changed_by):
            now = utcnow()
            await repo.add_history(account, before_owner, f"territory:{move.to_territory_id}", reason,
                                   payload.changed_by, now)
            await repo.save(account, before_version, now=now)  # the row is locked: no one changed it since
            events.extend(account.events)
    await add_to_outbox(session, plumbing, "/kam/account-svc", events)


HANDLERS = {**TERRITORIES.handlers(), "kam.team.territories_rebalanced.v1": apply_rebalance}
