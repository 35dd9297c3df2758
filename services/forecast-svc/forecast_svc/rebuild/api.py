from fastapi import APIRouter

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep

from . import service

# The tags this route had when it lived in the roll-up router: the contract keeps them.
router = APIRouter(tags=["roll-ups", "operations"])


@router.post("/v1/admin/rebuild",
             summary="Rebuild the read models from team-svc and opportunity-svc snapshots (admin)")
async def rebuild(principal: PrincipalDep, runtime: RuntimeDep):
    return await service.rebuild(runtime, principal)
