"""Routes for the records kept per account: contacts (the buying centre), competitor entries,
plans, interactions and complaints. Each gets create/list under its account and get/patch by id."""
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from kam_shared.app import RuntimeDep
from kam_shared.auth import PrincipalDep
from kam_shared.http import IfMatch, with_etag

from ..common import vocabulary as v
from ..common.api import sent
from . import service
from .schemas import (
    BuyingCentre,
    CompetitorCreate,
    CompetitorOut,
    CompetitorPage,
    CompetitorPatch,
    ComplaintCreate,
    ComplaintOut,
    ComplaintPage,
    ComplaintPatch,
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactPatch,
    InteractionCreate,
    InteractionOut,
    InteractionPage,
    InteractionPatch,
    PlanCreate,
    PlanOut,
    PlanPage,
    PlanPatch,
)

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=500)]


def _routes(kind: str, plural: str, tag: str, create: type[BaseModel], patch: type[BaseModel],
            out: type[BaseModel]) -> None:
    """POST /v1/accounts/{id}/<plural>, GET /v1/<plural>/{id}, PATCH /v1/<plural>/{id}."""

    async def create_record(account_id: uuid.UUID, body: create, principal: PrincipalDep,  # type: ignore[valid-type]
                            runtime: RuntimeDep, response: Response):
        async with runtime.uow() as uow:
            record = await service.add_record(uow, runtime, principal, kind, account_id, body.model_dump())
        response.headers["Location"] = f"/v1/{plural}/{record['id']}"
        return with_etag(response, record)

    async def get_record(record_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, response: Response):
        async with runtime.db.session() as session:
            record = await service.get_record(session, runtime, principal, kind, record_id)
        return with_etag(response, record)

    async def patch_record(record_id: uuid.UUID, body: patch, principal: PrincipalDep,  # type: ignore[valid-type]
                           runtime: RuntimeDep, response: Response, if_match: IfMatch = None):
        async with runtime.uow() as uow:
            record = await service.update_record(uow, runtime, principal, kind, record_id, sent(body),
                                                 if_match)
        return with_etag(response, record)

    router.add_api_route(f"/v1/accounts/{{account_id}}/{plural}", create_record, methods=["POST"], status_code=201,
                         response_model=out, tags=[tag], name=f"add_{kind}", summary=f"Add a {kind} to an account")
    router.add_api_route(f"/v1/{plural}/{{record_id}}", get_record, methods=["GET"], response_model=out, tags=[tag],
                         name=f"get_{kind}", summary=f"One {kind}")
    router.add_api_route(f"/v1/{plural}/{{record_id}}", patch_record, methods=["PATCH"], response_model=out,
                         tags=[tag], name=f"change_{kind}",
                         summary=f"Change a {kind}: only the fields sent (lists are replaced); If-Match")


_routes("contact", "contacts", "contacts", ContactCreate, ContactPatch, ContactOut)
_routes("competitor", "competitors", "competitors", CompetitorCreate, CompetitorPatch, CompetitorOut)
_routes("plan", "plans", "plans", PlanCreate, PlanPatch, PlanOut)
_routes("interaction", "interactions", "interactions", InteractionCreate, InteractionPatch, InteractionOut)
_routes("complaint", "complaints", "complaints", ComplaintCreate, ComplaintPatch, ComplaintOut)


@router.get("/v1/accounts/{account_id}/contacts", response_model=ContactPage, tags=["contacts"])
async def list_contacts(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 100,
                        cursor: str | None = None, buying_role: Literal[v.BUYING_ROLES] | None = None,
                        department: Literal[v.DEPARTMENTS] | None = None, active: bool | None = None):
    async with runtime.db.session() as session:
        return await service.list_records(session, runtime, principal, "contact", account_id, limit=limit,
                                          cursor=cursor, buying_role=buying_role, department=department,
                                          active=active)


@router.get("/v1/accounts/{account_id}/buying-centre", response_model=BuyingCentre, tags=["contacts"],
            summary="Who is who (counts by role, department, level), the org chart, and coverage gaps")
async def get_buying_centre(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep):
    async with runtime.db.session() as session:
        return await service.buying_centre(session, runtime, principal, account_id)


@router.get("/v1/accounts/{account_id}/competitors", response_model=CompetitorPage, tags=["competitors"])
async def list_competitors(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 100,
                           cursor: str | None = None):
    async with runtime.db.session() as session:
        return await service.list_records(session, runtime, principal, "competitor", account_id,
                                          limit=limit, cursor=cursor)


@router.get("/v1/accounts/{account_id}/plans", response_model=PlanPage, tags=["plans"])
async def list_plans(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 100,
                     cursor: str | None = None, status: Literal[v.PLAN_STATUSES] | None = None,
                     period: str | None = None):
    async with runtime.db.session() as session:
        return await service.list_records(session, runtime, principal, "plan", account_id, limit=limit,
                                          cursor=cursor, status=status, period=period)


@router.get("/v1/accounts/{account_id}/interactions", response_model=InteractionPage, tags=["interactions"],
            summary="Interactions, newest first")
async def list_interactions(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 100,
                            cursor: str | None = None, kind: Literal[v.INTERACTION_KINDS] | None = None):
    async with runtime.db.session() as session:
        return await service.list_records(session, runtime, principal, "interaction", account_id,
                                          limit=limit, cursor=cursor, kind=kind)


@router.get("/v1/accounts/{account_id}/complaints", response_model=ComplaintPage, tags=["complaints"])
async def list_complaints(account_id: uuid.UUID, principal: PrincipalDep, runtime: RuntimeDep, limit: Limit = 100,
                          cursor: str | None = None, status: Literal[v.COMPLAINT_STATUSES] | None = None):
    async with runtime.db.session() as session:
        return await service.list_records(session, runtime, principal, "complaint", account_id,
                                          limit=limit, cursor=cursor, status=status)
