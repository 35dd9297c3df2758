from typing import Annotated

from fastapi import APIRouter, Body, Query

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.contract import problem_responses

from . import service
from .schemas import ExchangeRateIn, ExchangeRatesOut

router = APIRouter(tags=["exchange rates"])


@router.get("/v1/exchange-rates", response_model=ExchangeRatesOut,
            summary="The corporate exchange rates in force (and with history=true every setting)")
async def get_exchange_rates(principal: PrincipalDep, runtime: RuntimeDep,
                             history: Annotated[bool, Query(description="also every superseded setting")] = False):
    async with runtime.db.session() as session:
        return await service.list_rates(session, history)


@router.put("/v1/exchange-rates", response_model=ExchangeRatesOut, responses=problem_responses(403, 422),
            summary="Set exchange rates per currency pair and effective date (admin); others are kept")
async def put_exchange_rates(principal: PrincipalDep, runtime: RuntimeDep,
                             body: Annotated[list[ExchangeRateIn], Body(min_length=1, max_length=500)]):
    async with runtime.uow() as uow:
        return await service.set_rates(uow, principal, [e.model_dump() for e in body])
