"""Account routes: thin — parse, call a use case, shape the response."""
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.contract import problem_responses
from kam_shared.http import IfMatch, with_etag

from ..common.api import sent
from . import service
from .schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    AccountPatch,
    AccountType,
    Duplicates,
    HealthBand,
    OwnerHistoryEntry,
    Reassign,
    SnapshotPage,
    Status,
    Tier,
    Tree,
)

router = APIRouter(tags=["accounts"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("/v1/accounts", status_code=201, response_model=AccountOut,
             summary="Create an account after the uniqueness check (409 names the existing one)",
             responses={200: {"model": AccountOut,
                              "description": "on_duplicate=enrich: the existing account, its empty fields filled"},
                        **problem_responses(409, s409="same credit code or normalised name: `match`, `visible`; "
                                                 "`existing_id` when you may see it, else only `owner_id`")})
async def create_account(body: AccountCreate, principal: PrincipalDep, runtime: RuntimeDep, response: Response,
                         on_duplicate: Literal["reject", "enrich"] = "reject"):
    async with runtime.uow() as uow:
        account, created = await service.open_account(uow, runtime, principal, sent(body), on_duplicate)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/accounts/{account['id']}"
    return with_etag(response, account)


@router.get("/v1/accounts", response_model=AccountPage,
            summary="Accounts you may see (your line or account team), ordered by id, with filters and name search "
                    "(q); health=at_risk: the at-risk ones, worst first")
async def list_accounts(principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 100, cursor: str | None = None,
                        owner_id: uuid.UUID | None = None, tier: Tier | None = None, type: AccountType | None = None,
                        industry: str | None = None, region: str | None = None, status: Status | None = None,
                        parent_id: uuid.UUID | None = None,
                        q: Annotated[str | None, Query(min_length=1, max_length=300,
                                                       description="name contains (width, case, punctuation and "
                                                                   "legal form ignored)")] = None,
                        include_merged: bool = False,
                        health: Annotated[HealthBand | None, Query(
                            description="only accounts in this health band, worst score first "
                                        "(GET /v1/accounts/{id}/health explains a score)")] = None):
    async with runtime.db.read_session() as session:  # reads only: no BEGIN/ROLLBACK round trips
        return await service.list_accounts(session, runtime, principal, limit=limit, cursor=cursor, q=q,
                                           include_merged=include_merged, health=health, owner_id=owner_id,
                                           tier=tier, type=type,
                                           industry=industry, region=region, status=status, parent_id=parent_id)


@router.get("/v1/accounts/duplicates", response_model=Duplicates,
            summary="Possible duplicates of a name and/or credit code, scored 0-100")
async def find_duplicates(principal: PrincipalDep, runtime: RuntimeDep,
                          name: Annotated[str | None, Query(max_length=300)] = None,
                          credit_code: Annotated[str | None, Query(max_length=40)] = None,
                          region: Annotated[str | None, Query(max_length=100)] = None,
                          limit: Annotated[int, Query(ge=1, le=50)] = 10):
    async with runtime.db.session() as session:
        return await service.duplicates(session, runtime, principal, name=name, credit_code=credit_code,
                                        region=region, limit=limit)


@router.get("/v1/accounts/snapshot", response_model=SnapshotPage,
            summary="Every account incl. tombstones, ordered by id, with version: for read-model rebuilds (admin)")
async def account_snapshot(principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 500,
                           cursor: str | None = None):
    async with runtime.db.session() as session:
        return await service.snapshot(session, principal, limit=limit, cursor=cursor)


@router.get("/v1/accounts/{account_id}", response_model=AccountOut,
            summary="An account; a merged one is a tombstone with merged_into_id")
async def get_account(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
    async with runtime.db.read_session() as session:  # reads only: no BEGIN/ROLLBACK round trips
        return with_etag(response, await service.get_account(session, runtime, principal, account_id))


@router.patch("/v1/accounts/{account_id}", response_model=AccountOut,
              summary="Change profile fields (only those sent; null clears). Owner, type and tier have own endpoints")
async def patch_account(account_id: uuid.UUID, body: AccountPatch, principal: PrincipalDep, runtime: RuntimeDep,
                        response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        account = await service.update_account(uow, runtime, principal, account_id, sent(body), if_match)
    return with_etag(response, account)


@router.get("/v1/accounts/{account_id}/tree", response_model=Tree,
            summary="The hierarchy: ancestors up to the group, and everything below this account")
async def account_tree(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.tree(session, runtime, principal, account_id)


@router.post("/v1/accounts/{account_id}/reassign", response_model=AccountOut,
             summary="Give the account to another account manager (recorded in the owner history)")
async def reassign_account(account_id: uuid.UUID, body: Reassign, principal: PrincipalDep, runtime: RuntimeDep,
                           response: Response, if_match: IfMatch = None):
    async with runtime.uow() as uow:
        account = await service.reassign(uow, runtime, principal, account_id, body.owner_id, body.reason, if_match)
    return with_etag(response, account)


@router.get("/v1/accounts/{account_id}/owner-history", response_model=list[OwnerHistoryEntry])
async def owner_history(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.owner_history_of(session, runtime, principal, account_id)
