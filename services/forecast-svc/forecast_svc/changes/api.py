import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import PipelineChangesOut

router = APIRouter(tags=["roll-ups"])


@router.get("/v1/pipeline-changes", response_model=PipelineChangesOut,
            summary="What changed in a node's roll-up since a date or instant: each opportunity and the waterfall")
async def get_pipeline_changes(
        principal: PrincipalDep, runtime: RuntimeDep,
        node: Annotated[uuid.UUID, Query(description="a user id (them and everyone below) or an org unit id "
                                                           "(everyone in it or below); not a territory (422)")],
        period: Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")],
        since: Annotated[str, Query(max_length=40, description="a date (its midnight, UTC) or an ISO 8601 date-time; "
                                                              "within the retained history, not in the future")],
        currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="how many changes to list")] = 200,
        offset: Annotated[int, Query(ge=0, le=10**7, description="how many of the listing to skip (the next page: "
                                                                 "offset + limit, while below changes_total)")] = 0):
    async with runtime.db.session() as session:
        return await service.pipeline_changes(session, runtime, principal, node, period, since, currency, limit,
                                              offset)
