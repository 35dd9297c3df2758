"""Routes of forecast submission: parse, call a use case, shape the response (ETag = record version)."""
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import INT_MAX, if_match_header, with_etag

from . import service
from .schemas import (
    AccuracyOut,
    AdjustmentIn,
    ChannelIn,
    ForecastCreate,
    ForecastOut,
    ForecastPage,
    PrinciplesIn,
    PrinciplesOut,
    PublishIn,
    SubmitIn,
    VersionList,
    VersionOut,
)

router = APIRouter(tags=["forecast submission"])
IfMatch = if_match_header("ETag of the record version you acted on; 412 if stale")
PeriodQuery = Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026")]
CurrencyQuery = Annotated[str | None, Query(min_length=3, max_length=3, description="default: CNY")]


# ------------------------------------------------------------------ principles
@router.get("/v1/forecast-principles/{period}", response_model=PrinciplesOut, tags=["forecast principles"],
            summary="What a period's forecasts count (defaults when none were set)")
async def get_principles(period: str, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_principles(session, period))


@router.put("/v1/forecast-principles/{period}", response_model=PrinciplesOut, tags=["forecast principles"],
            summary="Set a period's forecast principles (admin; If-Match with the ETag)")
async def put_principles(period: str, body: PrinciplesIn, principal: PrincipalDep, runtime: RuntimeDep,
                         response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        result = await service.put_principles(uow, principal, period, body.counted_categories,
                                              body.upside_categories, body.due_date, body.note, if_match)
    return with_etag(response, result)


# ------------------------------------------------------------------ records
@router.post("/v1/forecasts", status_code=201, response_model=ForecastOut,
             summary="Create your forecast record for a period, pre-filled from your confirmed opportunities "
                     "(and, for a manager, your direct reports' submissions)")
async def create_record(body: ForecastCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        record = await service.create_record(uow, runtime, principal, body.period, body.currency, body.owner_id)
    response.headers["Location"] = f"/v1/forecasts/{record['id']}"
    return with_etag(response, record)


@router.get("/v1/forecasts", response_model=ForecastPage,
            summary="Forecast records you may see (yours and your subtree's), in id order")
async def list_records(principal: PrincipalDep, runtime: RuntimeDep,
                       period: Annotated[str | None, Query(description="e.g. 2026-Q4")] = None,
                       currency: CurrencyQuery = None,
                       owner: Annotated[uuid.UUID | None, Query(description="the records of this user")] = None,
                       submitted_to: Annotated[str | None, Query(
                           description="'me' (what your direct reports submitted to you) or a user id")] = None,
                       status: Literal["draft", "submitted", "published"] | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100, cursor: str | None = None):
    async with runtime.db.session() as session:
        return await service.list_records(session, runtime, principal, period=period, currency=currency, owner=owner,
                                          submitted_to=submitted_to, status=status, limit=limit, cursor=cursor)


@router.get("/v1/forecasts/{record_id}", response_model=ForecastOut,
            summary="A forecast record: current figures, status, pre-fill detail, what was last submitted")
async def get_record(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.get_record(session, runtime, principal, record_id))


@router.get("/v1/forecasts/{record_id}/versions", response_model=VersionList,
            summary="Every version of the record, oldest first: who, when, why, and the figures")
async def list_versions(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.list_versions(session, runtime, principal, record_id)


@router.get("/v1/forecasts/{record_id}/versions/{number}", response_model=VersionOut,
            summary="One version of the record")
async def get_version(record_id: uuid.UUID, number: Annotated[int, Path(ge=1, le=INT_MAX)], principal: PrincipalDep,
                      runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.get_version(session, runtime, principal, record_id, number)


@router.post("/v1/forecasts/{record_id}/adjustments", status_code=201, response_model=ForecastOut,
             summary="Adjust (修订) one category of your own record, with a reason: a new version")
async def adjust(record_id: uuid.UUID, body: AdjustmentIn, principal: PrincipalDep, runtime: RuntimeDep,
                 response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        record = await service.adjust(uow, runtime, principal, record_id, category=body.category,
                                      amount_delta=body.amount_delta, amount=body.amount, reason=body.reason,
                                      if_match=if_match)
    response.headers["Location"] = f"/v1/forecasts/{record_id}/versions/{record['version']}"
    return with_etag(response, record)


@router.post("/v1/forecasts/{record_id}/refresh", response_model=ForecastOut,
             summary="Re-pull the pre-fill into a new version, keeping your adjustments (none if nothing changed)")
async def refresh(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                  if_match: IfMatch = None):
    async with runtime.uow() as uow:
        return with_etag(response, await service.refresh(uow, runtime, principal, record_id, if_match))


@router.post("/v1/forecasts/{record_id}/submit", response_model=ForecastOut,
             summary="Submit your record to your superior (逐层上报); again later as a new version, until locked")
async def submit(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                 body: SubmitIn | None = None, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        record = await service.submit(uow, runtime, principal, record_id, body.note if body else None, if_match)
    return with_etag(response, record)


@router.post("/v1/forecasts/{record_id}/channel-forecasts", status_code=201, response_model=ForecastOut,
             summary="Record a channel's forecast (渠道预测) beside the business unit's (top of chain or admin)")
async def record_channel_forecast(record_id: uuid.UUID, body: ChannelIn, principal: PrincipalDep,
                                  runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        record = await service.record_channel_forecast(uow, runtime, principal, record_id, body.channel, body.amount,
                                                       body.note, if_match)
    response.headers["Location"] = f"/v1/forecasts/{record_id}/versions/{record['version']}"
    return with_etag(response, record)


@router.post("/v1/forecasts/{record_id}/publish", response_model=ForecastOut,
             summary="Publish the business unit's final forecast (kam.forecast.published.v1); locks the period")
async def publish(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                  body: PublishIn | None = None, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        record = await service.publish(uow, runtime, principal, record_id, body.note if body else None, if_match)
    return with_etag(response, record)


# ------------------------------------------------------------------ accuracy
@router.get("/v1/forecast-accuracy", response_model=AccuracyOut, tags=["forecast accuracy"],
            summary="Last submitted forecast vs actual closed-won, per person who submitted in a subtree")
async def forecast_accuracy(principal: PrincipalDep, runtime: RuntimeDep,
                            node: Annotated[uuid.UUID, Query(description="user id: the subtree's root")],
                            period: PeriodQuery, currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        return await service.accuracy(session, runtime, principal, node, period, currency)
