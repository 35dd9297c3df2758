"""Who gets a new account, and whether someone may be given one (识别并分配客户)."""
from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime
from kam_shared.auth import Principal
from kam_shared.domain_errors import Forbidden, ValidationProblem
from kam_shared.events.team import TerritoryState

from ..common import directory
from .domain import Assignment, NoTerritoryRules, ReplicatedTerritoryRules, TerritoryRules, assign_owner
from .repository import TerritoryRepository


async def load_territory_rules(session: AsyncSession) -> TerritoryRules:
    """The active territories of the local replica of team-svc's territory events."""
    states = await TerritoryRepository(session).active_states()
    if not states:
        return NoTerritoryRules()
    return ReplicatedTerritoryRules([TerritoryState.model_validate(s) for s in states])


async def check_owner(session: AsyncSession, runtime: Runtime, principal: Principal, owner_id: uuid.UUID) -> None:
    """An owner someone chooses: an active user, and themselves or someone in their team."""
    await directory.require_active_user(session, runtime, principal, owner_id, "owner_id")
    if not await runtime.visibility.can_see(session, principal, owner_id):
        raise Forbidden("you can only assign accounts to yourself or to people in your team", field="owner_id")


async def choose_owner(session: AsyncSession, runtime: Runtime, principal: Principal,
                       explicit_owner: uuid.UUID | None, profile: dict) -> Assignment:
    """The owner of a new account: the one sent, else the territory rules, else the creator."""
    assignment = assign_owner(explicit_owner=explicit_owner, creator=principal.user_id, profile=profile,
                              rules=await load_territory_rules(session))
    if not assignment.rule.startswith("territory:"):
        await check_owner(session, runtime, principal, assignment.owner_id)
        return assignment
    # The rules decide, not the creator's reach: a rep may open an account that goes to the
    # territory's account manager. One who has left cannot take it: the creator keeps it.
    try:
        await directory.require_active_user(session, runtime, principal, assignment.owner_id, "owner_id")
    except ValidationProblem:
        assignment = Assignment(principal.user_id, "creator")
        await check_owner(session, runtime, principal, assignment.owner_id)
    return assignment
