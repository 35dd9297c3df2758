"""GET /v1/predictions (the predicted outcome of a period) and /v1/predictions/accuracy (its backtest)."""
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.contract import problem_responses

from . import service
from .schemas import PredictionAccuracyOut, PredictionOut

router = APIRouter(tags=["predictions"])

NodeQuery = Annotated[uuid.UUID, Query(description="user id: the subtree's root")]
CurrencyQuery = Annotated[str | None, Query(min_length=3, max_length=3)]


@router.get("/v1/predictions", response_model=PredictionOut, responses=problem_responses(404, 422),
            summary="Expected won amount of a period with a 90% range, from the organisation's own history")
async def get_prediction(principal: PrincipalDep, runtime: RuntimeDep, node: NodeQuery,
                         period: Annotated[str, Query(description="2026-11, 2026-Q4, 2026, FY2026-Q1 or FY2026")],
                         currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        return await service.prediction_for(session, runtime, principal, node, period, currency)


@router.get("/v1/predictions/accuracy", response_model=PredictionAccuracyOut, responses=problem_responses(404, 422),
            summary="Backtest: the method at past periods' start and midpoint against actual won (MAPE), "
                    "beside submitted forecasts")
async def get_accuracy(principal: PrincipalDep, runtime: RuntimeDep, node: NodeQuery,
                       kind: Annotated[Literal["quarter", "month"], Query(description="calendar periods")] = "quarter",
                       count: Annotated[int, Query(ge=1, le=12, description="how many past periods")] = 4,
                       currency: CurrencyQuery = None):
    async with runtime.db.session() as session:
        return await service.backtest(session, runtime, principal, node, kind, count, currency)
