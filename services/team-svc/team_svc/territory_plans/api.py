"""Territory plans per territory and fiscal period, with approval; rebalancing accounts between
territories from the capacity view: a proposal, and applying it (or an edited list) as one change."""
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.contract import problem_responses
from kam_shared.http import IfMatch, with_etag

from . import service
from .schemas import (
    Proposal,
    ReasonIn,
    RebalanceIn,
    RebalanceOut,
    TerritoryPlanCreate,
    TerritoryPlanOut,
    TerritoryPlanPage,
    TerritoryPlanPatch,
)

router = APIRouter(tags=["territory plans"])


@router.get("/v1/territory-plans/rebalance-proposal", response_model=Proposal,
            summary="Accounts to move from territories over their capacity (the period's plans, else an even "
                    "share) to those under it, from the capacity view")
async def rebalance_proposal(principal: PrincipalDep, runtime: RuntimeDep,
                             period: Annotated[str | None, Query(max_length=12)] = None):
    async with runtime.db.session() as session:
        return await service.proposal(session, runtime, principal, period)


@router.post("/v1/territory-plans/rebalance", status_code=201, response_model=RebalanceOut,
             summary="Move accounts between territories as one recorded change (a proposal's moves, or edited); "
                     "account-svc reassigns each account to its new territory's manager",
             responses=problem_responses(403))
async def rebalance(body: RebalanceIn, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        done = await service.rebalance(uow, runtime, principal, body.model_dump())
    response.headers["Location"] = f"/v1/territory-plans/rebalances/{done['id']}"
    return done


@router.get("/v1/territory-plans/rebalances/{rebalance_id}", response_model=RebalanceOut,
            summary="A rebalance as it was applied")
async def get_rebalance(rebalance_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.get_rebalance(session, principal, rebalance_id)


@router.post("/v1/territory-plans", status_code=201, response_model=TerritoryPlanOut,
             summary="Draft a territory's plan for a fiscal period (its manager, anyone above them, or an admin)",
             responses=problem_responses(409))
async def create_plan(body: TerritoryPlanCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        plan = await service.create_plan(uow, runtime, principal, body.model_dump())
    response.headers["Location"] = f"/v1/territory-plans/{plan['id']}"
    return with_etag(response, plan)


@router.get("/v1/territory-plans", response_model=TerritoryPlanPage,
            summary="Plans of the territories you may see (yours and your team's)")
async def list_plans(principal: PrincipalDep, runtime: RuntimeDep,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                     territory_id: uuid.UUID | None = None, period: Annotated[str | None, Query(max_length=12)] = None,
                     status: Literal["draft", "submitted", "approved", "rejected"] | None = None):
    async with runtime.db.session() as session:
        return await service.list_plans(session, runtime, principal, limit=limit, cursor=cursor,
                                        territory_id=territory_id, period=period, status=status)


@router.get("/v1/territory-plans/{plan_id}", response_model=TerritoryPlanOut,
            summary="A plan with its territory's quota for the period and its coverage against capacity now")
async def get_plan(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_plan(session, runtime, principal, plan_id))


@router.patch("/v1/territory-plans/{plan_id}", response_model=TerritoryPlanOut,
              summary="Change a draft (or rejected) plan: only the fields sent; If-Match",
              responses=problem_responses(409))
async def patch_plan(plan_id: uuid.UUID, body: TerritoryPlanPatch, principal: PrincipalDep, runtime: RuntimeDep,
                     response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        plan = await service.update_plan(uow, runtime, principal, plan_id, body.model_dump(exclude_unset=True),
                                         if_match)
    return with_etag(response, plan)


@router.post("/v1/territory-plans/{plan_id}/submit", response_model=TerritoryPlanOut,
             summary="draft | rejected → submitted",
             responses=problem_responses(409))
async def submit(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                 if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, runtime, principal, plan_id, "submit",
                                                          if_match=if_match))


@router.post("/v1/territory-plans/{plan_id}/approve", response_model=TerritoryPlanOut,
             summary="submitted → approved, by someone above the territory's manager or an admin (never the "
                     "manager)", responses=problem_responses(403, 409))
async def approve(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                  if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, runtime, principal, plan_id, "approve",
                                                          if_match=if_match))


@router.post("/v1/territory-plans/{plan_id}/reject", response_model=TerritoryPlanOut,
             summary="submitted → rejected with a reason (it can be changed and submitted again)",
             responses=problem_responses(403, 409))
async def reject(plan_id: uuid.UUID, body: ReasonIn, principal: PrincipalDep, runtime: RuntimeDep,
                 response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, runtime, principal, plan_id, "reject",
                                                          reason=body.reason, if_match=if_match))
