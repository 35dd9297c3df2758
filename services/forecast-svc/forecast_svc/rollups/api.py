import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import RollupOut

router = APIRouter(tags=["roll-ups"])


@router.get("/v1/rollups", response_model=RollupOut,
            summary="Pipeline, weighted pipeline and closed figures of a node: a user's subtree, an org unit, "
                    "a territory")
async def get_rollup(principal: PrincipalDep, runtime: RuntimeDep,
                     node: Annotated[uuid.UUID, Query(
                         description="a user id (them and everyone below), an org unit id or a territory id")],
                     period: Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")],
                     currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
                     confirmed_only: Annotated[bool, Query(
                         description="only opportunities their primary owner confirmed (what forecasts count)")
                     ] = False):
    async with runtime.db.session() as session:
        return await service.rollup_for(session, runtime, principal, node, period, currency, confirmed_only)
