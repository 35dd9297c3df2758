"""Routes of account health: one account's health, and the admin's health model."""
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.contract import problem_responses
from kam_shared.http import IfMatch, with_etag

from . import service
from .schemas import HealthModelIn, HealthModelOut, HealthOut, RecomputeOut

router = APIRouter(tags=["health"])


@router.get("/v1/accounts/{account_id}/health", response_model=HealthOut,
            summary="Health and churn risk (流失): 0-100 with each part explained and the facts behind it")
async def get_health(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    return await service.account_health(runtime, principal, account_id)  # its own sessions: read, then write


@router.get("/v1/health-model", response_model=HealthModelOut, summary="The weights of the account health score")
async def get_health_model(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_model(session))


@router.put("/v1/health-model", response_model=HealthModelOut,
            summary="Change the weights (admin; If-Match): every part, whole non-negative numbers summing to 100",
            responses=problem_responses(403, 412))
async def put_health_model(body: HealthModelIn, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                           if_match: IfMatch = None):
    async with runtime.uow() as uow:
        model = await service.change_model(uow, principal, body.model_dump(), if_match)
    return with_etag(response, model)


@router.post("/v1/health-model/recompute", response_model=RecomputeOut,
             summary="Recompute health never scored or older than stale_hours (admin; for a periodic job)",
             responses=problem_responses(403))
async def recompute_health(principal: PrincipalDep, runtime: RuntimeDep,
                           stale_hours: Annotated[int, Query(ge=0, le=24 * 366)] = 24,
                           limit: Annotated[int, Query(ge=1, le=5000)] = 1000):
    async with runtime.uow() as uow:
        return await service.recompute_stale(uow, principal, stale_hours=stale_hours, limit=limit)
