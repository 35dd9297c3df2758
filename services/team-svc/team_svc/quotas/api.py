import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, etag, with_etag
from kam_shared.money import validate_currency

from . import attainment as attainment_service
from . import service
from .domain import parse_period
from .schemas import (
    AllocateIn,
    CalendarIn,
    CalendarOut,
    PeriodOut,
    PersonAttainment,
    QuotaAttainment,
    QuotaCreate,
    QuotaHistoryEntry,
    QuotaOut,
    QuotaPage,
    QuotaPatch,
    ReasonIn,
    ReviseIn,
)

router = APIRouter(tags=["quotas"])


@router.get("/v1/fiscal-calendar", response_model=CalendarOut, tags=["fiscal calendar"])
async def get_calendar(principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        cal = await service.calendar(session)
    response.headers["ETag"] = etag(cal.version)
    return cal.model_dump()


@router.put("/v1/fiscal-calendar", response_model=CalendarOut, tags=["fiscal calendar"],
            summary="Set the fiscal-year start month (admin; only before the first quota)")
async def put_calendar(body: CalendarIn, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                       if_match: IfMatch = None):
    async with runtime.uow() as uow:
        cal = await service.set_calendar(uow, principal, body.fiscal_year_start_month, if_match)
    response.headers["ETag"] = etag(cal["version"])
    return cal


@router.get("/v1/fiscal-calendar/periods/{label}", response_model=PeriodOut, tags=["fiscal calendar"],
            summary="The dates of a period: FY2026, FY2026-Q3 or 2026-11")
async def get_period(label: str, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.describe_period(session, label)


@router.post("/v1/quotas", status_code=201, response_model=QuotaOut,
             summary="Set a quota (draft) for a person or an org unit and a period")
async def create_quota(body: QuotaCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        quota = await service.create_quota(uow, principal, **body.model_dump())
    response.headers["Location"] = f"/v1/quotas/{quota['id']}"
    return with_etag(response, quota)


@router.get("/v1/quotas", response_model=QuotaPage, summary="Quotas you may see (yours and your team's)")
async def list_quotas(principal: PrincipalDep, runtime: RuntimeDep,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                      period: str | None = None, owner_kind: Literal["user", "org_unit"] | None = None,
                      owner_id: uuid.UUID | None = None,
                      status: Literal["draft", "submitted", "approved"] | None = None,
                      parent_quota_id: uuid.UUID | None = None):
    async with runtime.db.session() as session:
        return await service.list_quotas(session, principal, limit=limit, cursor=cursor,
                                         period=period.upper() if period else None, owner_kind=owner_kind,
                                         owner_id=owner_id, status=status, parent_quota_id=parent_quota_id)


@router.get("/v1/quotas/{quota_id}", response_model=QuotaOut,
            summary="A quota with its children, what they add up to and the gap")
async def get_quota(quota_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_quota(session, principal, quota_id))


@router.patch("/v1/quotas/{quota_id}", response_model=QuotaOut, summary="Change a draft's target (If-Match)")
async def patch_quota(quota_id: uuid.UUID, body: QuotaPatch, principal: PrincipalDep, runtime: RuntimeDep,
                      response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        quota = await service.update_quota(uow, principal, quota_id, amount=body.amount,
                                           over_allocation_reason=body.over_allocation_reason, if_match=if_match)
    return with_etag(response, quota)


@router.post("/v1/quotas/{quota_id}/allocate", response_model=QuotaOut,
             summary="Split the quota top-down: evenly, by weights, by last year's won revenue, or by amounts")
async def allocate(quota_id: uuid.UUID, body: AllocateIn, principal: PrincipalDep, runtime: RuntimeDep,
                   response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        quota = await service.allocate(
            uow, principal, quota_id, method=body.method,
            children=[c.model_dump() for c in body.children] if body.children else None,
            uplift_percent=body.uplift_percent, over_allocation_reason=body.over_allocation_reason, if_match=if_match)
    return with_etag(response, quota)


@router.post("/v1/quotas/{quota_id}/submit", response_model=QuotaOut, summary="draft → submitted")
async def submit(quota_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                 if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, principal, quota_id, "submit", if_match=if_match))


@router.post("/v1/quotas/{quota_id}/approve", response_model=QuotaOut,
             summary="submitted → approved, by someone above the owner (never the owner)")
async def approve(quota_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                  if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, principal, quota_id, "approve", if_match=if_match))


@router.post("/v1/quotas/{quota_id}/reject", response_model=QuotaOut, summary="submitted → draft, with a reason")
async def reject(quota_id: uuid.UUID, body: ReasonIn, principal: PrincipalDep, runtime: RuntimeDep,
                 response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, principal, quota_id, "reject", reason=body.reason,
                                                          if_match=if_match))


@router.post("/v1/quotas/{quota_id}/revise", response_model=QuotaOut,
             summary="A new revision of an approved quota, with a reason (draft again until approved)")
async def revise(quota_id: uuid.UUID, body: ReviseIn, principal: PrincipalDep, runtime: RuntimeDep,
                 response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.transition(uow, principal, quota_id, "revise", reason=body.reason,
                                                          amount=body.amount, if_match=if_match))


@router.get("/v1/quotas/{quota_id}/history", response_model=list[QuotaHistoryEntry])
async def quota_history(quota_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.history(session, principal, quota_id)


@router.get("/v1/quotas/{quota_id}/attainment", response_model=QuotaAttainment,
            summary="Closed-won revenue in the quota's period and scope against its approved target")
async def quota_attainment(quota_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.attainment_of(session, principal, quota_id)


@router.get("/v1/attainment", response_model=PersonAttainment, tags=["attainment"],
            summary="A person's closed-won revenue (own and rolled up) for a period, against their quota, "
                    "with each direct report")
async def person_attainment(user_id: uuid.UUID, period: str, principal: PrincipalDep, runtime: RuntimeDep,
                            currency: str = "CNY"):
    async with runtime.db.session() as session:
        fiscal_period = parse_period(await service.calendar(session), period)
        return await attainment_service.person_attainment(session, principal, user_id, fiscal_period,
                                                          validate_currency(currency))
