import uuid
from typing import Annotated

from typing import Literal

from fastapi import APIRouter, Header, Query, Response

from kam_shared.app import RuntimeDep, etag
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import Close, OpportunityCreate, OpportunityOut, OpportunityPage, StageChange, StageHistoryEntry, StageOut

router = APIRouter(tags=["opportunities"])
IfMatch = Annotated[str | None, Header(description="ETag of the version you changed; 412 if stale")]


def _with_etag(response: Response, opp: dict) -> dict:
    response.headers["ETag"] = etag(opp["version"])
    return opp


@router.post("/v1/opportunities", status_code=201, response_model=OpportunityOut)
async def create_opportunity(body: OpportunityCreate, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response):
    async with runtime.uow() as uow:
        opp = await service.create_opportunity(uow, runtime, principal, **body.model_dump())
    response.headers["Location"] = f"/v1/opportunities/{opp['id']}"
    return _with_etag(response, opp)


@router.get("/v1/opportunities", response_model=OpportunityPage,
            summary="Opportunities you may see, ordered by id (admins: all; the snapshot for rebuilds)")
async def list_opportunities(principal: PrincipalDep, runtime: RuntimeDep,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                             owner_id: uuid.UUID | None = None, account_id: uuid.UUID | None = None,
                             stage: Annotated[int | None, Query(ge=1, le=8)] = None,
                             status: Literal["open", "won", "lost"] | None = None):
    async with runtime.db.session() as session:
        return await service.list_visible(session, runtime, principal, limit=limit, cursor=cursor,
                                          owner_id=owner_id, account_id=account_id, stage=stage, status=status)


@router.get("/v1/opportunities/{opp_id}", response_model=OpportunityOut)
async def get_opportunity(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return _with_etag(response, await service.get_visible(session, runtime, principal, opp_id))


@router.post("/v1/opportunities/{opp_id}/stage", response_model=OpportunityOut,
             summary="Move an open opportunity to stage 1..7 (skips and steps back are recorded)")
async def change_stage(opp_id: uuid.UUID, body: StageChange, principal: PrincipalDep, runtime: RuntimeDep,
                       response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.change_stage(uow, runtime, principal, opp_id, body.stage, if_match)
    return _with_etag(response, opp)


@router.post("/v1/opportunities/{opp_id}/close", response_model=OpportunityOut,
             summary="Close won (stage 8, probability 100) or lost (probability 0) with a reason")
async def close_opportunity(opp_id: uuid.UUID, body: Close, principal: PrincipalDep, runtime: RuntimeDep,
                            response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.close(uow, runtime, principal, opp_id, if_match=if_match, **body.model_dump())
    return _with_etag(response, opp)


@router.get("/v1/opportunities/{opp_id}/stage-history", response_model=list[StageHistoryEntry])
async def stage_history(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.history(session, runtime, principal, opp_id)


@router.get("/v1/stage-model", response_model=list[StageOut], tags=["stage model"])
async def get_stage_model(principal: PrincipalDep):
    return service.stage_model()
