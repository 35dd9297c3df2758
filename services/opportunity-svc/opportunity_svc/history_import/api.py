"""POST /v1/admin/opportunities/import: an admin records an opportunity's past history (a migration
from another CRM, the demo seed), replayed through the funnel's own rules at the times given."""
from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.contract import problem_responses
from kam_shared.http import with_etag

from ..opportunities.schemas import OpportunityOut
from ..opportunities.service import check_new
from . import service
from .schemas import OpportunityImport

router = APIRouter(tags=["opportunities", "operations"])


@router.post("/v1/admin/opportunities/import", status_code=201, response_model=OpportunityOut,
             responses=problem_responses(403, 422),
             summary="Import an opportunity with its past history (admin): events carry the historical times")
async def import_opportunity(body: OpportunityImport, principal: PrincipalDep, runtime: RuntimeDep,
                             response: Response):
    service.require_admin(principal)
    service.check_times(body)
    checked = await check_new(runtime, principal, account_id=body.account_id, currency=body.currency,
                              owner_id=body.owner_id)
    async with runtime.uow() as uow:
        opp = await service.import_opportunity(uow, principal, checked, body)
    response.headers["Location"] = f"/v1/opportunities/{opp['id']}"
    return with_etag(response, opp)
