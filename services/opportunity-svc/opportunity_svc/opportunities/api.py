"""Routes of one opportunity: create, read, edit, funnel moves, confirmation, owner and sales team,
value assessment, tender details. Thin: parse, call a use case, shape the response."""
import uuid

from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.events.opportunity import TenderState
from kam_shared.http import IfMatch, with_etag

from . import service
from .schemas import (
    AssessmentIn,
    AssessmentOut,
    Close,
    Confirm,
    DimensionOut,
    OpportunityCreate,
    OpportunityOut,
    OpportunityPatch,
    OwnerChange,
    Reopen,
    StageChange,
    StageHistoryEntry,
    TeamMemberIn,
    TeamMemberOut,
    TenderIn,
)

router = APIRouter(tags=["opportunities"])


# ------------------------------------------------------------------ collection
@router.post("/v1/opportunities", status_code=201, response_model=OpportunityOut)
async def create_opportunity(body: OpportunityCreate, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response):
    checked = await service.check_new(runtime, principal, account_id=body.account_id, currency=body.currency,
                                      owner_id=body.owner_id)  # may ask account-svc: before the unit of work
    async with runtime.uow() as uow:
        opp = await service.create_opportunity(uow, principal, checked, name=body.name, amount=body.amount,
                                               close_date=body.close_date)
    response.headers["Location"] = f"/v1/opportunities/{opp['id']}"
    return with_etag(response, opp)


@router.get("/v1/opportunities/assessment-questions", response_model=list[DimensionOut], tags=["assessment"],
            summary="The 20 value-assessment questions in their four dimensions (keys for PUT .../assessment)")
async def assessment_questions(principal: PrincipalDep):
    return service.assessment_questions()


# ------------------------------------------------------------------ one opportunity
@router.get("/v1/opportunities/{opp_id}", response_model=OpportunityOut)
async def get_opportunity(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_visible(session, runtime, principal, opp_id))


@router.patch("/v1/opportunities/{opp_id}", response_model=OpportunityOut,
              summary="Edit name, amount, currency, close date, forecast category, product lines (send only changes)")
async def patch_opportunity(opp_id: uuid.UUID, body: OpportunityPatch, principal: PrincipalDep, runtime: RuntimeDep,
                            response: Response, if_match: IfMatch = None):
    fields = body.model_dump(exclude_unset=True)
    async with runtime.uow() as uow:
        opp = await service.update_fields(uow, runtime, principal, opp_id, fields, if_match)
    return with_etag(response, opp)


@router.post("/v1/opportunities/{opp_id}/stage", response_model=OpportunityOut,
             summary="Move an open opportunity to stage 1..7 (skips and steps back are recorded)")
async def change_stage(opp_id: uuid.UUID, body: StageChange, principal: PrincipalDep, runtime: RuntimeDep,
                       response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.change_stage(uow, runtime, principal, opp_id, body.stage, if_match)
    return with_etag(response, opp)


@router.post("/v1/opportunities/{opp_id}/close", response_model=OpportunityOut,
             summary="Close won (stage 8, probability 100) or lost (probability 0) with a reason")
async def close_opportunity(opp_id: uuid.UUID, body: Close, principal: PrincipalDep, runtime: RuntimeDep,
                            response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.close(uow, runtime, principal, opp_id, if_match=if_match, **body.model_dump())
    return with_etag(response, opp)


@router.post("/v1/opportunities/{opp_id}/reopen", response_model=OpportunityOut,
             summary="Reopen a closed opportunity into an open stage, with a reason (recorded in the history)")
async def reopen_opportunity(opp_id: uuid.UUID, body: Reopen, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.reopen(uow, runtime, principal, opp_id, reason=body.reason, stage=body.stage,
                                   if_match=if_match)
    return with_etag(response, opp)


@router.get("/v1/opportunities/{opp_id}/stage-history", response_model=list[StageHistoryEntry])
async def stage_history(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.history(session, runtime, principal, opp_id)


@router.post("/v1/opportunities/{opp_id}/confirm", response_model=OpportunityOut,
             summary="The primary owner confirms (确认) the opportunity for forecasts, or withdraws it (false)")
async def confirm(opp_id: uuid.UUID, body: Confirm, principal: PrincipalDep, runtime: RuntimeDep,
                  response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.set_confirmed(uow, runtime, principal, opp_id, body.confirmed, if_match)
    return with_etag(response, opp)


# ------------------------------------------------------------------ sales team and owner
@router.post("/v1/opportunities/{opp_id}/owner", response_model=OpportunityOut, tags=["sales team"],
             summary="Change the primary owner: only a superior of the current owner (any level up) or an admin")
async def change_owner(opp_id: uuid.UUID, body: OwnerChange, principal: PrincipalDep, runtime: RuntimeDep,
                       response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.change_owner(uow, runtime, principal, opp_id, body.owner_id, body.reason, if_match)
    return with_etag(response, opp)


@router.get("/v1/opportunities/{opp_id}/team", response_model=list[TeamMemberOut], tags=["sales team"],
            summary="The primary owner first, then the other members with their roles")
async def get_team(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.team(session, runtime, principal, opp_id)


@router.put("/v1/opportunities/{opp_id}/team/{user_id}", response_model=OpportunityOut, tags=["sales team"],
            summary="Add someone to the sales team, or change their role")
async def put_team_member(opp_id: uuid.UUID, user_id: uuid.UUID, body: TeamMemberIn, principal: PrincipalDep,
                          runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.set_team_member(uow, runtime, principal, opp_id, user_id, body.role, if_match)
    return with_etag(response, opp)


@router.delete("/v1/opportunities/{opp_id}/team/{user_id}", response_model=OpportunityOut, tags=["sales team"])
async def delete_team_member(opp_id: uuid.UUID, user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.remove_team_member(uow, runtime, principal, opp_id, user_id, if_match)
    return with_etag(response, opp)


# ------------------------------------------------------------------ value assessment
@router.put("/v1/opportunities/{opp_id}/assessment", response_model=AssessmentOut, tags=["assessment"],
            summary="Record a value assessment: all 20 yes/no answers; returns sub-scores, total and high_value")
async def put_assessment(opp_id: uuid.UUID, body: AssessmentIn, principal: PrincipalDep, runtime: RuntimeDep,
                         response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        out = await service.record_assessment(uow, runtime, principal, opp_id, body.answers, if_match)
    return with_etag(response, out, out["opportunity_version"])


@router.get("/v1/opportunities/{opp_id}/assessment", response_model=AssessmentOut, tags=["assessment"],
            summary="The latest value assessment (404 if none yet)")
async def get_assessment(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.latest_assessment(session, runtime, principal, opp_id)


@router.get("/v1/opportunities/{opp_id}/assessments", response_model=list[AssessmentOut], tags=["assessment"],
            summary="Every assessment of the opportunity, oldest first")
async def list_assessments(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.list_assessments(session, runtime, principal, opp_id)


# ------------------------------------------------------------------ tender details
@router.put("/v1/opportunities/{opp_id}/tender", response_model=TenderState, tags=["tender"],
            summary="Replace the tender/project details (evaluation weights must sum to 100)")
async def put_tender(opp_id: uuid.UUID, body: TenderIn, principal: PrincipalDep, runtime: RuntimeDep,
                     response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        tender, version = await service.set_tender(uow, runtime, principal, opp_id,
                                                   TenderState.model_validate(body.model_dump()), if_match)
    return with_etag(response, tender, version)


@router.get("/v1/opportunities/{opp_id}/tender", response_model=TenderState, tags=["tender"])
async def get_tender(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        tender, version = await service.get_tender(session, runtime, principal, opp_id)
    return with_etag(response, tender, version)
