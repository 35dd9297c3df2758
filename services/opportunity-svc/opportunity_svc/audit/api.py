"""The audit trail of opportunities (kam_shared.audit): every field's changes, beside the stage
history the opportunities slice keeps; and the admin query across records. An opportunity the
caller may not see is a 404, exactly like its direct read."""
import uuid

from kam_shared.app import RuntimeDep
from kam_shared.audit import History, audit_router
from kam_shared.auth import PrincipalDep

from ..opportunities.service import get_visible


async def _visible_opportunity(opp_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await get_visible(session, runtime, principal, opp_id)
    return opp_id


router = audit_router([History("/v1/opportunities/{opp_id}/history", "opportunity", _visible_opportunity)],
                      tag="audit")
