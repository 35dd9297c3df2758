"""The merge route: the duplicate from_id goes into the survivor."""
import uuid

from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, with_etag

from ..accounts.schemas import AccountOut
from . import service
from .schemas import Merge

router = APIRouter(tags=["accounts"])


@router.post("/v1/accounts/{account_id}/merge", response_model=AccountOut,
             summary="Merge the duplicate from_id into this account (the survivor)")
async def merge_accounts(account_id: uuid.UUID, body: Merge, principal: PrincipalDep, runtime: RuntimeDep,
                         response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        account = await service.merge(uow, runtime, principal, account_id, body.from_id, if_match)
    return with_etag(response, account)
