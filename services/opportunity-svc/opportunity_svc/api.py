import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response

from kam_shared.app import RuntimeDep, etag
from kam_shared.auth import PrincipalDep
from kam_shared.events.opportunity import ForecastCategory, TenderState

from . import service
from .schemas import (AssessmentIn, AssessmentOut, Close, Confirm, DimensionOut, OpportunityCreate, OpportunityOut,
                      OpportunityPage, OpportunityPatch, OwnerChange, PipelineSummary, Reopen, SnapshotPage, StageChange,
                      StageHistoryEntry, StageIn, StageOut, TeamMemberIn, TeamMemberOut, TenderIn)

router = APIRouter(tags=["opportunities"])
IfMatch = Annotated[str | None, Header(description="ETag of the version you changed; 412 if stale")]


def _with_etag(response: Response, opp: dict) -> dict:
    response.headers["ETag"] = etag(opp["version"])
    return opp


class PipelineFilters:
    """Query filters shared by the list and the summary."""

    def __init__(self,
                 owner_id: Annotated[uuid.UUID | None, Query(description="primary owner exactly")] = None,
                 owner_subtree: Annotated[uuid.UUID | None, Query(
                     description="this user's and everyone's below them (within what you may see)")] = None,
                 account_id: uuid.UUID | None = None,
                 status: Literal["open", "won", "lost"] | None = None,
                 close_date_from: Annotated[dt.date | None, Query(description="inclusive")] = None,
                 close_date_to: Annotated[dt.date | None, Query(description="inclusive")] = None,
                 high_value: Annotated[bool | None, Query(description="latest assessment total > 10")] = None,
                 confirmed: bool | None = None,
                 forecast_category: ForecastCategory | None = None):
        self.values = dict(owner_id=owner_id, owner_subtree=owner_subtree, account_id=account_id, status=status,
                           close_date_from=close_date_from, close_date_to=close_date_to, high_value=high_value,
                           confirmed=confirmed, forecast_category=forecast_category)


Filters = Annotated[PipelineFilters, Depends()]
Stages = Annotated[list[int] | None, Query(description="stage number(s) 1..8; repeat for several")]


# ------------------------------------------------------------------ collection
@router.post("/v1/opportunities", status_code=201, response_model=OpportunityOut)
async def create_opportunity(body: OpportunityCreate, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response):
    async with runtime.uow() as uow:
        opp = await service.create_opportunity(uow, runtime, principal, **body.model_dump())
    response.headers["Location"] = f"/v1/opportunities/{opp['id']}"
    return _with_etag(response, opp)


@router.get("/v1/opportunities", response_model=OpportunityPage,
            summary="Opportunities you may see (owned in your line, or on your team), ordered by id, filtered")
async def list_opportunities(principal: PrincipalDep, runtime: RuntimeDep, filters: Filters,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                             stage: Stages = None):
    async with runtime.db.session() as session:
        return await service.list_visible(session, runtime, principal, limit=limit, cursor=cursor, stages=stage,
                                          **filters.values)


@router.get("/v1/opportunities/snapshot", response_model=SnapshotPage,
            summary="Full opportunity states with versions, in id order, for read-model rebuilds (paged)")
async def snapshot(principal: PrincipalDep, runtime: RuntimeDep,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 500, cursor: str | None = None):
    async with runtime.db.session() as session:
        return await service.snapshot(session, runtime, principal, limit=limit, cursor=cursor)


@router.get("/v1/opportunities/assessment-questions", response_model=list[DimensionOut], tags=["assessment"],
            summary="The 20 value-assessment questions in their four dimensions (keys for PUT .../assessment)")
async def assessment_questions(principal: PrincipalDep):
    return service.assessment_questions()


@router.get("/v1/pipeline/summary", response_model=PipelineSummary, tags=["pipeline"],
            summary="Counts and amounts per stage (per currency) over what you may see, with the list's filters")
async def pipeline_summary(principal: PrincipalDep, runtime: RuntimeDep, filters: Filters,
                           stage: Stages = None):
    async with runtime.db.session() as session:
        return await service.pipeline_summary(session, runtime, principal, stages=stage, **filters.values)


# ------------------------------------------------------------------ one opportunity
@router.get("/v1/opportunities/{opp_id}", response_model=OpportunityOut)
async def get_opportunity(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return _with_etag(response, await service.get_visible(session, runtime, principal, opp_id))


@router.patch("/v1/opportunities/{opp_id}", response_model=OpportunityOut,
              summary="Edit name, amount, currency, close date, forecast category, product lines (send only changes)")
async def patch_opportunity(opp_id: uuid.UUID, body: OpportunityPatch, principal: PrincipalDep, runtime: RuntimeDep,
                            response: Response, if_match: IfMatch = None):
    fields = body.model_dump(exclude_unset=True)
    async with runtime.uow() as uow:
        opp = await service.update_fields(uow, runtime, principal, opp_id, fields, if_match)
    return _with_etag(response, opp)


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


@router.post("/v1/opportunities/{opp_id}/reopen", response_model=OpportunityOut,
             summary="Reopen a closed opportunity into an open stage, with a reason (recorded in the history)")
async def reopen_opportunity(opp_id: uuid.UUID, body: Reopen, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.reopen(uow, runtime, principal, opp_id, reason=body.reason, stage=body.stage,
                                   if_match=if_match)
    return _with_etag(response, opp)


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
    return _with_etag(response, opp)


# ------------------------------------------------------------------ sales team and owner
@router.post("/v1/opportunities/{opp_id}/owner", response_model=OpportunityOut, tags=["sales team"],
             summary="Change the primary owner: only a superior of the current owner (any level up) or an admin")
async def change_owner(opp_id: uuid.UUID, body: OwnerChange, principal: PrincipalDep, runtime: RuntimeDep,
                       response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.change_owner(uow, runtime, principal, opp_id, body.owner_id, body.reason, if_match)
    return _with_etag(response, opp)


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
    return _with_etag(response, opp)


@router.delete("/v1/opportunities/{opp_id}/team/{user_id}", response_model=OpportunityOut, tags=["sales team"])
async def delete_team_member(opp_id: uuid.UUID, user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        opp = await service.remove_team_member(uow, runtime, principal, opp_id, user_id, if_match)
    return _with_etag(response, opp)


# ------------------------------------------------------------------ value assessment
@router.put("/v1/opportunities/{opp_id}/assessment", response_model=AssessmentOut, tags=["assessment"],
            summary="Record a value assessment: all 20 yes/no answers; returns sub-scores, total and high_value")
async def put_assessment(opp_id: uuid.UUID, body: AssessmentIn, principal: PrincipalDep, runtime: RuntimeDep,
                         response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        out = await service.record_assessment(uow, runtime, principal, opp_id, body.answers, if_match)
    response.headers["ETag"] = etag(out["opportunity_version"])
    return out


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
    response.headers["ETag"] = etag(version)
    return tender


@router.get("/v1/opportunities/{opp_id}/tender", response_model=TenderState, tags=["tender"])
async def get_tender(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        tender, version = await service.get_tender(session, runtime, principal, opp_id)
    response.headers["ETag"] = etag(version)
    return tender


# ------------------------------------------------------------------ stage model
def _stages_out(response: Response, model) -> list[dict]:
    response.headers["ETag"] = etag(model.version)
    return [s.__dict__ for s in model.stages]


@router.get("/v1/stage-model", response_model=list[StageOut], tags=["stage model"],
            summary="The eight stages with names, descriptions and probabilities (ETag: the model's version)")
async def get_stage_model(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return _stages_out(response, await service.get_stage_model(session))


@router.put("/v1/stage-model", response_model=list[StageOut], tags=["stage model"],
            summary="Admin: replace names, descriptions and probabilities of the eight stages (publishes an event)")
async def put_stage_model(body: list[StageIn], principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                          if_match: IfMatch = None):
    async with runtime.uow() as uow:
        model = await service.put_stage_model(uow, principal, [s.model_dump() for s in body], if_match)
    return _stages_out(response, model)
