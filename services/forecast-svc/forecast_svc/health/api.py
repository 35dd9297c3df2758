"""Funnel health (销售漏斗健康度: norms, daily stage snapshots, ratings), quota attainment and accuracy."""
import uuid
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, Path, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import if_match_header, with_etag

from . import service
from .schemas import (
    AttainmentOut,
    DeriveNormIn,
    FunnelHealthOut,
    ManualNormIn,
    NormOut,
    SnapshotDayPage,
    SnapshotIn,
    SnapshotOut,
)


@asynccontextmanager
async def daily_snapshot_lifespan(app: FastAPI):
    """The daily stage snapshot runs beside the relay and the consumer. FastAPI nests an included
    router's lifespan inside the app's, so the runtime exists here and outlives the task."""
    task = service.start_daily_stage_snapshots(app.state.runtime)
    try:
        yield
    finally:
        if task:
            task.cancel()


router = APIRouter(tags=["funnel health", "attainment"], lifespan=daily_snapshot_lifespan)

NodeQuery = Annotated[uuid.UUID, Query(description="user id: the subtree's root")]
NodePath = Annotated[uuid.UUID, Path(description="user id: the subtree's root (a team is its manager's subtree)")]
PeriodQuery = Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")]
PeriodPath = Annotated[str, Path(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")]
# The norms' If-Match has always been undocumented in the contract: keep it so.
IfMatch = if_match_header(None)
CurrencyQuery = Annotated[str | None, Query(min_length=3, max_length=3, description="default: the reporting currency")]


@router.post("/v1/admin/stage-snapshots", response_model=SnapshotOut, tags=["operations"],
             summary="Take (or re-take) a day's snapshot of open pipeline per owner, close month and stage (admin)")
async def take_stage_snapshot(principal: PrincipalDep, runtime: RuntimeDep,
                              body: Annotated[SnapshotIn | None, Body()] = None):
    return await service.take_stage_snapshot_on_demand(runtime, principal, body.day if body else None)


@router.get("/v1/admin/stage-snapshots", response_model=SnapshotDayPage, tags=["operations"],
            summary="The days snapshotted, newest first (admin)")
async def list_stage_snapshots(principal: PrincipalDep, runtime: RuntimeDep,
                               limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None):
    async with runtime.db.session() as session:
        return await service.list_snapshot_days(session, principal, limit, cursor)


@router.get("/v1/funnel-norms/{node}/{period}", response_model=NormOut,
            summary="The funnel norm in force for a node, period and currency (ETag: its version)")
async def get_norm(node: NodePath, period: PeriodPath, principal: PrincipalDep, runtime: RuntimeDep,
                   response: Response, currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        norm = await service.get_norm(session, runtime, principal, node, period, currency)
    return with_etag(response, norm)


@router.get("/v1/funnel-norms/{node}/{period}/versions", response_model=list[NormOut],
            summary="Every version of the norm, newest first: who set what, when, how")
async def get_norm_versions(node: NodePath, period: PeriodPath, principal: PrincipalDep, runtime: RuntimeDep,
                            currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        return await service.norm_versions(session, runtime, principal, node, period, currency)


@router.put("/v1/funnel-norms/{node}/{period}", response_model=NormOut,
            summary="Set the norm by hand (a manager for their subtree, or an admin; If-Match optional)")
async def put_norm(node: NodePath, period: PeriodPath, body: ManualNormIn, principal: PrincipalDep,
                   runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        norm = await service.put_manual_norm(uow, runtime, principal, node, period, body.currency,
                                             [(s.stage, s.count, s.amount) for s in body.stages], if_match)
    return with_etag(response, norm)


@router.post("/v1/funnel-norms/{node}/{period}/derive", response_model=NormOut,
             summary="Derive the norm from past periods' daily stage snapshots (a manager or an admin)")
async def derive_norm(node: NodePath, period: PeriodPath, principal: PrincipalDep, runtime: RuntimeDep,
                      response: Response, body: Annotated[DeriveNormIn | None, Body()] = None,
                      if_match: IfMatch = None):
    body = body or DeriveNormIn()
    async with runtime.uow() as uow:
        norm = await service.derive_norm(uow, runtime, principal, node, period, body.currency, body.from_periods,
                                         if_match)
    return with_etag(response, norm)


@router.get("/v1/funnel-health", response_model=FunnelHealthOut,
            summary="Each open stage's pipeline against its norm: ratio and rating by count and by amount")
async def get_funnel_health(node: NodeQuery, period: PeriodQuery, principal: PrincipalDep, runtime: RuntimeDep,
                            currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        return await service.funnel_health(session, runtime, principal, node, period, currency)


@router.get("/v1/attainment", response_model=AttainmentOut,
            summary="Quota, closed-won, live forecast, gap and attainment for a node and each direct report")
async def get_attainment(node: NodeQuery, period: PeriodQuery, principal: PrincipalDep, runtime: RuntimeDep,
                         currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        return await service.attainment_for(session, runtime, principal, node, period, currency)
