"""The audit trail of forecast records (kam_shared.audit): who changed which figure or status and
when; and the admin query across records. A record the caller may not see is a 404, exactly like
its direct read."""
import uuid

from kam_shared.app import RuntimeDep
from kam_shared.audit import History, audit_router
from kam_shared.auth import PrincipalDep

from ..submission.service import get_record


async def _visible_record(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.session() as session:
        await get_record(session, runtime, principal, record_id)
    return record_id


router = audit_router([History("/v1/forecasts/{record_id}/history", "forecast record", _visible_record)],
                      tag="audit")
