import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import RollupOut

router = APIRouter(tags=["roll-ups"])


@router.get("/v1/rollups", response_model=RollupOut,
            summary="Pipeline, weighted pipeline and closed figures for a user's whole subtree")
async def get_rollup(principal: PrincipalDep, runtime: RuntimeDep,
                     node: Annotated[uuid.UUID, Query(description="user id: the subtree's root")],
                     period: Annotated[str, Query(description="2026-11, 2026-Q4 or 2026")],
                     currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None):
    async with runtime.db.session() as session:
        return await service.rollup_for(session, runtime, principal, node, period, currency)


@router.post("/v1/admin/rebuild", tags=["operations"],
             summary="Rebuild the read models from team-svc and opportunity-svc snapshots (admin)")
async def rebuild(principal: PrincipalDep, runtime: RuntimeDep):
    return await service.rebuild(runtime, principal)
