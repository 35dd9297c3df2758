from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import if_match_header, with_etag

from . import service
from .schemas import CategoryMappingOut, StageCategoryIn

# The tags these routes had when they lived in the roll-up router: the contract keeps them.
router = APIRouter(tags=["roll-ups", "forecast principles"])
# This route's If-Match has always been undocumented in the contract: keep it so.
IfMatch = if_match_header(None)


@router.get("/v1/forecast-categories", response_model=CategoryMappingOut,
            summary="Which forecast category each open stage falls in (ETag: the mapping's version)")
async def get_category_mapping(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        mapping = await service.get_category_mapping(session)
    return with_etag(response, mapping)


@router.put("/v1/forecast-categories", response_model=CategoryMappingOut,
            summary="Replace the stage → category mapping (admin; If-Match with the ETag)")
async def put_category_mapping(body: list[StageCategoryIn], principal: PrincipalDep, runtime: RuntimeDep,
                               response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        mapping = await service.put_category_mapping(uow, principal, [m.model_dump() for m in body], if_match)
    return with_etag(response, mapping)
