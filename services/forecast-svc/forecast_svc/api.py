import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from kam_shared.app import RuntimeDep, etag
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import CategoryMappingOut, RollupOut, StageCategoryIn

router = APIRouter(tags=["roll-ups"])


@router.get("/v1/rollups", response_model=RollupOut,
            summary="Pipeline, weighted pipeline and closed figures for a user's whole subtree")
async def get_rollup(principal: PrincipalDep, runtime: RuntimeDep,
                     node: Annotated[uuid.UUID, Query(description="user id: the subtree's root")],
                     period: Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")],
                     currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
                     confirmed_only: Annotated[bool, Query(
                         description="only opportunities their primary owner confirmed (what forecasts count)")] = False):
    async with runtime.db.session() as session:
        return await service.rollup_for(session, runtime, principal, node, period, currency, confirmed_only)


@router.post("/v1/admin/rebuild", tags=["operations"],
             summary="Rebuild the read models from team-svc and opportunity-svc snapshots (admin)")
async def rebuild(principal: PrincipalDep, runtime: RuntimeDep):
    return await service.rebuild(runtime, principal)


@router.get("/v1/forecast-categories", response_model=CategoryMappingOut, tags=["forecast principles"],
            summary="Which forecast category each open stage falls in (ETag: the mapping's version)")
async def get_category_mapping(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        mapping = await service.get_category_mapping(session)
    response.headers["ETag"] = etag(mapping["version"])
    return mapping


@router.put("/v1/forecast-categories", response_model=CategoryMappingOut, tags=["forecast principles"],
            summary="Replace the stage → category mapping (admin; If-Match with the ETag)")
async def put_category_mapping(body: list[StageCategoryIn], principal: PrincipalDep, runtime: RuntimeDep,
                               response: Response, if_match: Annotated[str | None, Header()] = None):
    async with runtime.uow() as uow:
        mapping = await service.put_category_mapping(uow, principal, [m.model_dump() for m in body], if_match)
    response.headers["ETag"] = etag(mapping["version"])
    return mapping
