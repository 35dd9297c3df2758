"""Admin routes of every service for outbox rows the relay parked (see kam_shared.outbox):
list them, and put them back in line once the cause is fixed."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from .auth import Principal, PrincipalDep
from .domain_errors import Forbidden, NotFound
from .outbox import OutboxRelay


class ParkedOutboxRow(BaseModel):
    id: int
    event_id: str
    event_type: str
    topic: str
    message_key: str
    created_at: dt.datetime
    attempts: int
    last_error: str | None


class ParkedOutboxPage(BaseModel):
    items: list[ParkedOutboxRow]
    next_cursor: str | None


class OutboxRetried(BaseModel):
    retried: int


async def _relay(request: Request) -> OutboxRelay:  # async: no thread-pool hop (see app.get_runtime)
    return request.app.state.runtime.relay


RelayDep = Annotated[OutboxRelay, Depends(_relay)]


def _require_admin(principal: Principal, what: str) -> None:
    if not principal.is_admin:
        raise Forbidden(f"only an admin can {what}")


def outbox_admin_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/v1/admin/outbox/parked", response_model=ParkedOutboxPage,
                summary="Outbox rows parked after failing to publish outbox_max_attempts times (admin)")
    async def parked_outbox_rows(principal: PrincipalDep, relay: RelayDep,
                                 limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None):
        _require_admin(principal, "read parked outbox rows")
        items, next_cursor = await relay.parked(limit=limit, cursor=cursor)
        return ParkedOutboxPage(items=[ParkedOutboxRow(**item) for item in items], next_cursor=next_cursor)

    @router.post("/v1/admin/outbox/parked/retry", response_model=OutboxRetried,
                 summary="Put parked outbox rows back in line for publishing: all, or one by id (admin)")
    async def retry_parked_outbox_rows(
            principal: PrincipalDep, relay: RelayDep,
            row_id: Annotated[int | None, Query(alias="id", ge=1, le=2**63 - 1,  # the column is a BIGINT
                                                description="Only this parked row (its `id` in the list)")] = None):
        _require_admin(principal, "retry parked outbox rows")
        retried = await relay.retry_parked(row_id)
        if row_id is not None and not retried:
            raise NotFound(f"no parked outbox row with id {row_id}")
        return OutboxRetried(retried=retried)

    return router
