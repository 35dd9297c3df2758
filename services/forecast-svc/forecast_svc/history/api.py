import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import ForecastHistoryOut

router = APIRouter(tags=["roll-ups"])


@router.get("/v1/forecast-history", response_model=ForecastHistoryOut,
            summary="A node's roll-up for a period at each day or week end, and its submitted forecast versions")
async def get_forecast_history(
        principal: PrincipalDep, runtime: RuntimeDep,
        node: Annotated[uuid.UUID, Query(description="a user id (them and everyone below) or an org unit id "
                                                           "(everyone in it or below); not a territory (422)")],
        period: Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026 (fiscal)")],
        interval: Annotated[Literal["day", "week"], Query()] = "day",
        currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None):
    async with runtime.db.session() as session:
        return await service.forecast_history(session, runtime, principal, node, period, interval, currency)
