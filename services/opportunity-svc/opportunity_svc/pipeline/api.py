"""Routes of the pipeline: the filtered list, the snapshot for read-model rebuilds, the per-stage summary.

Included before the opportunity routes: `/v1/opportunities/snapshot` must match before `/v1/opportunities/{opp_id}`.
"""
import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.events.opportunity import ForecastCategory

from . import service
from .schemas import OpportunityPage, PipelineSummary, SnapshotPage

router = APIRouter(tags=["opportunities"])


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
Stages = Annotated[list[Annotated[int, Field(ge=1, le=8)]] | None,
                  Query(description="stage number(s) 1..8; repeat for several")]


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


@router.get("/v1/pipeline/summary", response_model=PipelineSummary, tags=["pipeline"],
            summary="Counts and amounts per stage (per currency) over what you may see, with the list's filters")
async def pipeline_summary(principal: PrincipalDep, runtime: RuntimeDep, filters: Filters,
                           stage: Stages = None):
    async with runtime.db.session() as session:
        return await service.pipeline_summary(session, runtime, principal, stages=stage, **filters.values)
