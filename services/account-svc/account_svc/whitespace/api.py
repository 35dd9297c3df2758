"""Route of whitespace: the account's group tree crossed with the product families we sell."""
import uuid

from fastapi import APIRouter, Response
from pydantic_core import to_json

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep

from . import service
from .schemas import Whitespace

router = APIRouter(tags=["whitespace"])


@router.get("/v1/accounts/{account_id}/whitespace", response_model=Whitespace,
            summary="For the account and its subsidiaries and branches, per product family: won, open or none, "
                    "and for none what comparable accounts (same industry and tier) buy")
async def account_whitespace(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        body = await service.whitespace(session, runtime, principal, account_id)
    # Serialised as built (the domain builds the documented shape; the API tests validate answers against
    # `Whitespace`): re-validating a 50-unit group's cells through the response model cost more than the reads.
    return Response(to_json(body), media_type="application/json")
