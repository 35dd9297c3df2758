import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, etag

from ..common import hierarchy as common
from ..common.schemas import HistoryEntry
from . import service
from .schemas import OrgTree, OrgUnitCreate, OrgUnitOut, OrgUnitPage, OrgUnitPatch

router = APIRouter(tags=["organisation"])


@router.post("/v1/org-units", status_code=201, response_model=OrgUnitOut,
             summary="Create a company (no parent) or a unit below another (admin)")
async def create_org_unit(body: OrgUnitCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        unit = await service.create_org_unit(uow, principal, **body.model_dump())
    response.headers["ETag"] = etag(unit["version"])
    response.headers["Location"] = f"/v1/org-units/{unit['id']}"
    return unit


@router.get("/v1/org-units/{unit_id}", response_model=OrgUnitOut)
async def get_org_unit(unit_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        unit = await service.get_org_unit(session, unit_id)
    response.headers["ETag"] = etag(unit["version"])
    return unit


@router.patch("/v1/org-units/{unit_id}", response_model=OrgUnitOut,
              summary="Rename, move under another parent, change manager, (de)activate (admin; If-Match)")
async def patch_org_unit(unit_id: uuid.UUID, body: OrgUnitPatch, principal: PrincipalDep, runtime: RuntimeDep,
                         response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        unit = await service.update_org_unit(uow, principal, unit_id, body.model_dump(exclude_unset=True), if_match)
    response.headers["ETag"] = etag(unit["version"])
    return unit


@router.get("/v1/org-units", response_model=OrgUnitPage, summary="Org units ordered by id (the snapshot too)")
async def list_org_units(principal: PrincipalDep, runtime: RuntimeDep,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                         parent_id: uuid.UUID | None = None, company_id: uuid.UUID | None = None,
                         active: bool | None = None):
    async with runtime.db.session() as session:
        return await service.list_org_units(session, limit=limit, cursor=cursor, parent_id=parent_id,
                                            company_id=company_id, active=active)


@router.get("/v1/org-units/{unit_id}/history", response_model=list[HistoryEntry])
async def org_unit_history(unit_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        await service.get_org_unit(session, unit_id)
        return await common.history(session, "org_unit", unit_id)


@router.get("/v1/org/tree", response_model=OrgTree,
            summary="The organisation: units nested under their parents, each with its members")
async def get_tree(principal: PrincipalDep, runtime: RuntimeDep, root: uuid.UUID | None = None,
                   include_users: bool = True, include_inactive: bool = False):
    async with runtime.db.session() as session:
        return await service.org_tree(session, root_id=root, include_users=include_users,
                                      include_inactive=include_inactive)
