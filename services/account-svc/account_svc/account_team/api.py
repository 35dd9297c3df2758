"""Routes of the account team: the same shape as an opportunity's sales team routes."""
import uuid

from fastapi import APIRouter, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, with_etag

from . import service
from .schemas import AccountTeamOut, TeamMemberIn

router = APIRouter(tags=["account team"])


@router.get("/v1/accounts/{account_id}/team", response_model=AccountTeamOut,
            summary="The account manager first, then the account team with their roles")
async def get_team(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        return with_etag(response, await service.team_of(session, runtime, principal, account_id))


@router.put("/v1/accounts/{account_id}/team/{user_id}", response_model=AccountTeamOut,
            summary="Add someone (any department, active) to the account team, or change their role; If-Match")
async def put_team_member(account_id: uuid.UUID, user_id: uuid.UUID, body: TeamMemberIn, principal: PrincipalDep,
                          runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        team = await service.set_team_member(uow, runtime, principal, account_id, user_id, body.role, if_match)
    return with_etag(response, team)


@router.delete("/v1/accounts/{account_id}/team/{user_id}", response_model=AccountTeamOut,
               summary="Take someone off the account team; If-Match")
async def delete_team_member(account_id: uuid.UUID, user_id: uuid.UUID, principal: PrincipalDep,
                             runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        team = await service.remove_team_member(uow, runtime, principal, account_id, user_id, if_match)
    return with_etag(response, team)
