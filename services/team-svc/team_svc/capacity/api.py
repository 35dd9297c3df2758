from fastapi import APIRouter

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.money import validate_currency

from . import service
from .schemas import Capacity

# Shown under the territories tag, right after the territory routes (the contract keeps both).
router = APIRouter(tags=["territories"])


@router.get("/v1/capacity", response_model=Capacity,
            summary="Accounts and open pipeline per territory and per person, to rebalance sales capacity")
async def capacity(principal: PrincipalDep, runtime: RuntimeDep, currency: str = "CNY"):
    async with runtime.db.session() as session:
        return await service.capacity(runtime, session, principal, validate_currency(currency))
