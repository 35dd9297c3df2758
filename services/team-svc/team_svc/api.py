import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Header, Query, Request, Response
from sqlalchemy import select

from kam_shared.app import RuntimeDep, etag
from kam_shared.auth import PrincipalDep, jwks_document
from kam_shared.pagination import decode_cursor, encode_cursor

from . import service
from .models import users
from .schemas import Token, UserCreate, UserOut, UserPage, UserPatch

router = APIRouter()


@router.post("/v1/auth/token", response_model=Token, tags=["auth"],
             summary="OAuth2 password flow: username = email")
async def token(request: Request, runtime: RuntimeDep, username: Annotated[str, Form()],
                password: Annotated[str, Form()]):
    access, lifetime = await service.issue_token(runtime, request.app.state.signing_key, username, password)
    return Token(access_token=access, expires_in=lifetime)


@router.get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that verify KAM tokens")
async def jwks(request: Request):
    return jwks_document([request.app.state.signing_key])


@router.post("/v1/users", status_code=201, response_model=UserOut, tags=["users"])
async def create_user(body: UserCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        user = await service.register_user(uow, principal, **body.model_dump())
    response.headers["ETag"] = etag(user["version"])
    response.headers["Location"] = f"/v1/users/{user['id']}"
    return user


@router.get("/v1/users/{user_id}", response_model=UserOut, tags=["users"])
async def get_user(user_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    # The user directory is visible to every signed-in member of the organisation.
    async with runtime.db.session() as session:
        row = await service.get_user_row(session, user_id)
    response.headers["ETag"] = etag(row["version"])
    return dict(row)


@router.patch("/v1/users/{user_id}", response_model=UserOut, tags=["users"],
              summary="Move a user in the hierarchy, change role or name, deactivate (admin; If-Match)")
async def patch_user(user_id: uuid.UUID, body: UserPatch, principal: PrincipalDep, runtime: RuntimeDep,
                     response: Response, if_match: Annotated[str | None, Header()] = None):
    async with runtime.uow() as uow:
        user = await service.update_user(uow, principal, user_id, body.model_dump(exclude_unset=True), if_match)
    response.headers["ETag"] = etag(user["version"])
    return user


@router.get("/v1/users", response_model=UserPage, tags=["users"],
            summary="All users ordered by id (also the snapshot for read-model rebuilds)")
async def list_users(principal: PrincipalDep, runtime: RuntimeDep,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None):
    after = decode_cursor(cursor, uuid.UUID)
    query = select(users).order_by(users.c.id).limit(limit + 1)
    if after:
        query = query.where(users.c.id > after)
    async with runtime.db.session() as session:
        rows = (await session.execute(query)).mappings().all()
    items = [dict(r) for r in rows[:limit]]
    return UserPage(items=items, next_cursor=encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None)
