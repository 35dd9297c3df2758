"""The audit trail of account-svc's records (kam_shared.audit): accounts and each record kind,
`GET .../history`, and the admin query across records. A record the caller may not see is a 404,
exactly like its direct read."""
import uuid

from kam_shared.app import RuntimeDep
from kam_shared.audit import History, audit_router
from kam_shared.auth import PrincipalDep

from ..accounts.service import visible_account
from ..records.service import get_record


async def _visible_account(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
    async with runtime.db.read_session() as session:
        await visible_account(session, runtime, principal, account_id)
    return account_id


def _visible_record(kind: str):
    async def visible(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep) -> uuid.UUID:
        async with runtime.db.read_session() as session:
            await get_record(session, runtime, principal, kind, record_id)
        return record_id
    return visible


router = audit_router([
    History("/v1/accounts/{account_id}/history", "account", _visible_account),
    *(History(f"/v1/{kind}s/{{record_id}}/history", kind, _visible_record(kind))
      for kind in ("contact", "competitor", "plan", "interaction", "complaint")),
], tag="audit")
