import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from kam_shared.app import RuntimeDep, etag
from kam_shared.auth import PrincipalDep
from kam_shared.pagination import decode_cursor, encode_cursor

from . import service
from .models import accounts
from .schemas import AccountCreate, AccountOut, AccountPage

router = APIRouter(tags=["accounts"])


@router.post("/v1/accounts", status_code=201, response_model=AccountOut)
async def create_account(body: AccountCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.uow() as uow:
        account = await service.open_account(uow, runtime, principal, **body.model_dump())
    response.headers["ETag"] = etag(account["version"])
    response.headers["Location"] = f"/v1/accounts/{account['id']}"
    return account


@router.get("/v1/accounts/{account_id}", response_model=AccountOut)
async def get_account(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.session() as session:
        row = await service.visible_account(session, runtime, principal, account_id)
    response.headers["ETag"] = etag(row["version"])
    return dict(row)


@router.get("/v1/accounts", response_model=AccountPage,
            summary="Accounts you may see, ordered by id (admins: all, the snapshot for rebuilds)")
async def list_accounts(principal: PrincipalDep, runtime: RuntimeDep,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None,
                        owner_id: uuid.UUID | None = None):
    after = decode_cursor(cursor, uuid.UUID)
    query = select(accounts).order_by(accounts.c.id).limit(limit + 1)
    if after:
        query = query.where(accounts.c.id > after)
    if owner_id:
        query = query.where(accounts.c.owner_id == owner_id)
    async with runtime.db.session() as session:
        owners = await runtime.visibility.owner_ids(session, principal)
        if owners is not None:
            query = query.where(accounts.c.owner_id.in_(owners))
        rows = (await session.execute(query)).mappings().all()
    items = [dict(r) for r in rows[:limit]]
    return AccountPage(items=items, next_cursor=encode_cursor(str(items[-1]["id"])) if len(rows) > limit else None)
