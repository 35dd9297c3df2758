import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, with_etag

from . import service
from .schemas import (
    AdjustIn,
    CalculateIn,
    CalculationOut,
    CostAnalysis,
    PayoutOut,
    PayoutPage,
    PeriodIn,
    PlanCreate,
    PlanOut,
    PlanPage,
    PlanPatch,
)

router = APIRouter(tags=["incentives"])


@router.post("/v1/incentive-plans", status_code=201, response_model=PlanOut, summary="Draft a plan (admin)")
async def create_plan(body: PlanCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        plan = await service.create_plan(uow, principal, **{
            **body.model_dump(), "tiers": [t.model_dump() for t in body.tiers],
            "accelerators": [a.model_dump() for a in body.accelerators]})
    response.headers["Location"] = f"/v1/incentive-plans/{plan['id']}"
    return with_etag(response, plan)


@router.get("/v1/incentive-plans", response_model=PlanPage,
            summary="Plans you may see (admins: all; others: plans paying them or their team)")
async def list_plans(principal: PrincipalDep, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                     cursor: str | None = None, status: Literal["draft", "approved", "retired"] | None = None):
    async with runtime.db.session() as session:
        return await service.list_plans(session, principal, limit=limit, cursor=cursor, status=status)


@router.get("/v1/incentive-plans/{plan_id}", response_model=PlanOut)
async def get_plan(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_plan(session, principal, plan_id))


@router.patch("/v1/incentive-plans/{plan_id}", response_model=PlanOut,
              summary="Change a draft plan, or retire a plan (admin; If-Match)")
async def patch_plan(plan_id: uuid.UUID, body: PlanPatch, principal: PrincipalDep, runtime: RuntimeDep,
                     response: Response, if_match: IfMatch = None):
    fields = body.model_dump(exclude_unset=True)
    for key in ("tiers", "accelerators"):
        if fields.get(key) is not None:
            fields[key] = [dict(x) for x in fields[key]]
    async with runtime.uow() as uow:
        return with_etag(response, await service.update_plan(uow, principal, plan_id, fields, if_match))


@router.post("/v1/incentive-plans/{plan_id}/expected-cost", response_model=CostAnalysis,
             summary="预期费用分析: projected payout for a period from won revenue, forecast and pipeline")
async def expected_cost(plan_id: uuid.UUID, body: PeriodIn, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.uow() as uow:
        return await service.expected_cost(uow, principal, plan_id, body.period)


@router.post("/v1/incentive-plans/{plan_id}/approve", response_model=PlanOut,
             summary="Approve a plan after an expected-cost analysis of this version (never by a participant)")
async def approve_plan(plan_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                       if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.approve_plan(uow, principal, plan_id, if_match))


@router.post("/v1/incentive-plans/{plan_id}/payouts", response_model=CalculationOut,
             summary="Calculate (or recalculate) payouts for a period from attainment")
async def calculate(plan_id: uuid.UUID, body: CalculateIn, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.uow() as uow:
        return await service.calculate_payouts(uow, principal, plan_id, body.period, body.user_ids)


@router.get("/v1/payouts", response_model=PayoutPage, summary="Payouts you may see (yours and your team's)")
async def list_payouts(principal: PrincipalDep, runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                       cursor: str | None = None, plan_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None,
                       period: str | None = None,
                       status: Literal["calculated", "approved", "paid"] | None = None):
    async with runtime.db.session() as session:
        return await service.list_payouts(session, principal, limit=limit, cursor=cursor, plan_id=plan_id,
                                          user_id=user_id, period=period.upper() if period else None, status=status)


@router.get("/v1/payouts/{payout_id}", response_model=PayoutOut, summary="A payout with its statement and history")
async def get_payout(payout_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_payout(session, principal, payout_id))


@router.post("/v1/payouts/{payout_id}/adjust", response_model=PayoutOut,
             summary="A manual adjustment with a reason: a new revision (approved again before payment)")
async def adjust(payout_id: uuid.UUID, body: AdjustIn, principal: PrincipalDep, runtime: RuntimeDep,
                 response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.change_payout(uow, principal, payout_id, "adjust",
                                                             adjustment=body.adjustment, reason=body.reason,
                                                             if_match=if_match))


@router.post("/v1/payouts/{payout_id}/approve", response_model=PayoutOut,
             summary="Approve a calculated payout (someone above the payee, or an admin)")
async def approve_payout(payout_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                         if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.change_payout(uow, principal, payout_id, "approve", if_match=if_match))


@router.post("/v1/payouts/{payout_id}/pay", response_model=PayoutOut,
             summary="Record the payment of an approved payout (admin); pays only what is still owed")
async def pay(payout_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
              if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.change_payout(uow, principal, payout_id, "pay", if_match=if_match))
