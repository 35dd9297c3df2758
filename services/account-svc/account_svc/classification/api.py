"""Classification routes (under /v1/accounts, tagged accounts): the Pareto view, the tier score,
classifying an account. Included before the accounts router: `/v1/accounts/pareto` must be matched
before `/v1/accounts/{account_id}`."""
import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, with_etag

from ..accounts.schemas import AccountOut
from . import service
from .schemas import Classify, ParetoOut, TierRecommendationOut

router = APIRouter(tags=["accounts"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/v1/accounts/pareto", response_model=ParetoOut,
            summary="Which accounts make up 80% (threshold_pct) of won revenue, from the opportunities won")
async def pareto(principal: PrincipalDep, runtime: RuntimeDep,
                 currency: Annotated[str, Query(min_length=3, max_length=3)] = "CNY",
                 since: Annotated[dt.date | None, Query(description="close date from")] = None,
                 until: Annotated[dt.date | None, Query(description="close date to")] = None,
                 threshold_pct: Annotated[Decimal, Query(gt=0, le=100)] = Decimal(80), limit: Limit = 100):
    async with runtime.db.session() as session:
        return await service.pareto_view(session, runtime, principal, currency=currency, since=since,
                                         until=until, threshold_pct=threshold_pct, limit=limit)




@router.post("/v1/accounts/{account_id}/classification", response_model=AccountOut,
             summary="Set type and/or tier, or apply the tier the score recommends")
async def classify_account(account_id: uuid.UUID, body: Classify, principal: PrincipalDep, runtime: RuntimeDep,
                           response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        account = await service.classify(uow, runtime, principal, account_id, if_match=if_match, **body.model_dump())
    return with_etag(response, account)


@router.get("/v1/accounts/{account_id}/tier-score", response_model=TierRecommendationOut,
            summary="Tier recommendation with each criterion's contribution (won revenue, margin, continuity, "
                    "strategic flags)")
async def tier_score(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep,
                     currency: Annotated[str, Query(min_length=3, max_length=3)] = "CNY"):
    async with runtime.db.session() as session:
        return await service.tier_recommendation(session, runtime, principal, account_id, currency)
