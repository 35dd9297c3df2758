import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PASSWORD_CHANGE_PATH, PrincipalDep
from kam_shared.http import IfMatch, etag

from ..auth.api import client_address_of
from ..auth.schemas import problems
from ..common import hierarchy as common
from ..common.read_pool import read_only
from ..common.schemas import HistoryEntry
from . import service
from .schemas import (
    Chain,
    IsAbove,
    PasswordChange,
    PasswordReset,
    PasswordResetOut,
    SessionsRevoked,
    Subtree,
    UserCreate,
    UserOut,
    UserPage,
    UserPatch,
)

# Deeper than any real hierarchy; keeps the recursive query's depth counter far from INTEGER's limit.
MAX_DEPTH = 10_000

router = APIRouter(tags=["users"])
# The user directory and the reporting lines are visible to every signed-in member of the organisation.


@router.post("/v1/users", status_code=201, response_model=UserOut)
async def create_user(body: UserCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        user = await service.register_user(uow, principal, **body.model_dump())
    response.headers["ETag"] = etag(user["version"])
    response.headers["Location"] = f"/v1/users/{user['id']}"
    return user


@router.post(PASSWORD_CHANGE_PATH, status_code=204, response_class=Response, responses=problems(401, 403, 422, 429),
             summary="Change your own password (current password required; throttled like sign-in). The one route "
                     "a token issued with a temporary password opens; sign in again afterwards")
async def change_my_password(body: PasswordChange, request: Request, principal: PrincipalDep, runtime: RuntimeDep):
    await service.change_password(runtime, principal, body.current_password, body.new_password,
                                  client_address_of(request, runtime))
    return Response(status_code=204)


@router.post("/v1/users/{user_id}/password-reset", response_model=PasswordResetOut,
             responses=problems(401, 403, 404, 422, 429),
             summary="Give a user a temporary password they must change at their next sign-in (admin)")
async def reset_password(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                         body: PasswordReset | None = None):
    result = await service.reset_password(runtime, principal, user_id, body.temporary_password if body else None)
    response.headers["Cache-Control"] = "no-store"
    return result


@router.post("/v1/users/{user_id}/revoke-sessions", response_model=SessionsRevoked,
             responses=problems(401, 403, 404),
             summary="End every session of a user: their refresh tokens are refused from now on, their access "
                     "tokens at expiry (admin)")
async def revoke_sessions(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.uow() as uow:
        return await service.revoke_sessions(uow, principal, user_id)


@router.get("/v1/users/{user_id}", response_model=UserOut)
async def get_user(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        user = await service.get_user(session, user_id)
    response.headers["ETag"] = etag(user["version"])
    return user


@router.patch("/v1/users/{user_id}", response_model=UserOut,
              summary="Move a user in the hierarchy or to another org unit, change role, name or title, "
                      "deactivate (admin; If-Match)")
async def patch_user(user_id: uuid.UUID, body: UserPatch, principal: PrincipalDep, runtime: RuntimeDep,
                     response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        user = await service.update_user(uow, principal, user_id, body.model_dump(exclude_unset=True), if_match)
    runtime.authority.forget(user_id)  # a role or active change counts from this process's next request
    response.headers["ETag"] = etag(user["version"])
    return user


@router.get("/v1/users", response_model=UserPage,
            summary="All users ordered by id (also the snapshot for read-model rebuilds)")
async def list_users(principal: PrincipalDep, runtime: RuntimeDep,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                     org_unit_id: uuid.UUID | None = None, active: bool | None = None):
    async with runtime.db.session() as session:
        return await service.list_users(session, limit=limit, cursor=cursor, org_unit_id=org_unit_id, active=active)


@router.get("/v1/users/{user_id}/subtree", response_model=Subtree,
            summary="The user and everyone below them, in tree order, with each one's depth")
async def get_subtree(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep,
                      include_inactive: bool = False,
                      max_depth: Annotated[int | None, Query(ge=0, le=MAX_DEPTH)] = None):
    async with read_only(runtime) as conn:
        return await service.subtree(conn, user_id, include_inactive=include_inactive, max_depth=max_depth)


@router.get("/v1/users/{user_id}/chain", response_model=Chain, summary="The user's superiors up to the top")
async def get_chain(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with read_only(runtime) as conn:
        return await service.chain(conn, user_id)


@router.get("/v1/users/{user_id}/history", response_model=list[HistoryEntry],
            summary="Every change of the user: who, when, from/to")
async def get_history(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        await service.get_user(session, user_id)
        return await common.history(session, "user", user_id)


@router.get("/v1/hierarchy/is-above", response_model=IsAbove,
            summary="Whether superior_id is somewhere up subordinate_id's reporting chain")
async def is_above(superior_id: uuid.UUID, subordinate_id: uuid.UUID, principal: PrincipalDep,
                   runtime: RuntimeDep):
    async with read_only(runtime) as conn:
        return await service.is_above_answer(conn, superior_id, subordinate_id)
