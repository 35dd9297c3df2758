import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.events.team import AccountProfile
from kam_shared.http import IfMatch, with_etag

from ..common.read_pool import read_only
from . import service
from .schemas import MatchIn, MatchOut, RuleIn, RulePatch, TerritoryCreate, TerritoryOut, TerritoryPage, TerritoryPatch

router = APIRouter(tags=["territories"])
# Territories and rules are readable by everyone signed in (assignment must be explainable);
# only admins change them.


@router.post("/v1/territories", status_code=201, response_model=TerritoryOut,
             summary="Create a territory (optionally below another) with its assignment rules (admin)")
async def create_territory(body: TerritoryCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        territory = await service.create_territory(uow, principal, **body.model_dump())
    response.headers["Location"] = f"/v1/territories/{territory['id']}"
    return with_etag(response, territory)


@router.get("/v1/territories", response_model=TerritoryPage, summary="Territories with their rules, by id")
async def list_territories(principal: PrincipalDep, runtime: RuntimeDep,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                           active: bool | None = None, parent_id: uuid.UUID | None = None,
                           owner_id: uuid.UUID | None = None):
    async with runtime.db.session() as session:
        return await service.list_territories(session, limit=limit, cursor=cursor, active=active,
                                              parent_id=parent_id, owner_id=owner_id)


@router.post("/v1/territories/match", response_model=MatchOut,
             summary="Who should own an account with this profile, and which rule says so")
async def match(body: MatchIn, principal: PrincipalDep, runtime: RuntimeDep, explain: bool = True):
    async with read_only(runtime) as conn:
        return await service.match(runtime, conn, AccountProfile(**body.model_dump()), explain=explain)


@router.get("/v1/territories/{territory_id}", response_model=TerritoryOut)
async def get_territory(territory_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_territory(session, territory_id))


@router.patch("/v1/territories/{territory_id}", response_model=TerritoryOut,
              summary="Rename, move, change owner or org unit, (de)activate (admin; If-Match)")
async def patch_territory(territory_id: uuid.UUID, body: TerritoryPatch, principal: PrincipalDep,
                          runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        territory = await service.update_territory(uow, principal, territory_id, body.model_dump(exclude_unset=True),
                                                   if_match)
    return with_etag(response, territory)


@router.post("/v1/territories/{territory_id}/rules", status_code=201, response_model=TerritoryOut,
             summary="Add an assignment rule (admin; If-Match on the territory)")
async def add_rule(territory_id: uuid.UUID, body: RuleIn, principal: PrincipalDep, runtime: RuntimeDep,
                   response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        territory = await service.add_rule(uow, principal, territory_id, body.model_dump(), if_match)
    return with_etag(response, territory)


@router.patch("/v1/territories/{territory_id}/rules/{rule_id}", response_model=TerritoryOut,
              summary="Change a rule (admin; If-Match on the territory)")
async def patch_rule(territory_id: uuid.UUID, rule_id: uuid.UUID, body: RulePatch, principal: PrincipalDep,
                     runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        territory = await service.update_rule(uow, principal, territory_id, rule_id,
                                              body.model_dump(exclude_unset=True), if_match)
    return with_etag(response, territory)


@router.delete("/v1/territories/{territory_id}/rules/{rule_id}", response_model=TerritoryOut,
               summary="Remove a rule (admin; If-Match on the territory)")
async def delete_rule(territory_id: uuid.UUID, rule_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep,
                      response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        territory = await service.remove_rule(uow, principal, territory_id, rule_id, if_match)
    return with_etag(response, territory)
