"""The audit trail of every aggregate: who changed which field from what to what, and when.

Derived from the service's own events, not from a second log: `add_to_outbox` writes each event's
audit row (kam_shared.audit_state.audit_row) in the same transaction as its outbox row, and the
relay never purges it. A record's history is the diff of its consecutive states, read by
(subject, time) with keyset paging.

A service exposes it with `audit_router(...)`: one `GET <record path>/history` per aggregate, each
with a dependency that answers the record's id after checking the caller may see it (raising the
same NotFound as a direct read), plus `GET /v1/admin/audit` (admin: across records by actor, time
range and event type).
"""

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from sqlalchemy import Table, select

from .app import RuntimeDep
from .audit_state import diff, diff_flat, flatten
from .auth import PrincipalDep
from .contract import problem_responses
from .domain_errors import Forbidden, ValidationProblem
from .repository import Repository


class AuditFieldChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    field: str = Field(description="dotted path of the field, e.g. `name` or `tender.deadline`")
    before: Any = Field(alias="from", description="the value before the change (null: none)")
    after: Any = Field(alias="to", description="the value after the change (null: none)")


class AuditEntry(BaseModel):
    event_id: str
    event_type: str = Field(description="the event that made the change, e.g. `kam.account.updated.v1`")
    subject: str = Field(description="the record's id")
    version: int = Field(description="the record's version after the change")
    actor_id: uuid.UUID | None = Field(description="who made the change (null: the system)")
    at: dt.datetime
    changes: list[AuditFieldChange] = Field(description="the fields that changed (on the first event: those set)")


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


class AuditLog(Repository):
    """The audit rows of one service (its PlumbingTables.audit)."""

    def __init__(self, session, table: Table):
        super().__init__(session)
        self.table = table

    async def _state_before(self, subject: str, at: dt.datetime, row_id: int) -> dict | None:
        t = self.table
        row = (await self.session.execute(
            select(t.c.state).where(t.c.subject == subject, (t.c.at < at) | ((t.c.at == at) & (t.c.id < row_id)))
            .order_by(t.c.at.desc(), t.c.id.desc()).limit(1))).first()
        return json.loads(row.state) if row else None

    async def history(self, subject: str, *, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """One page of a record's changes, oldest first."""
        t = self.table
        rows, next_cursor = await self.paginate(select(t).where(t.c.subject == subject),
                                                keys=[t.c.at, t.c.id], limit=limit, cursor=cursor)
        # Without a cursor the page starts at the record's first row: nothing is before it, so the
        # look-up (a second query) is only needed from the second page on.
        before = await self._state_before(subject, rows[0]["at"], rows[0]["id"]) if rows and cursor else None
        before = flatten(before) if before is not None else None
        entries = []
        for row in rows:
            state = flatten(json.loads(row["state"]))  # once per state: it is the next entry's `before`
            entries.append(_entry(row, diff_flat(before, state)))
            before = state
        return entries, next_cursor

    async def search(self, *, actor_id: uuid.UUID | None, since: dt.datetime | None, until: dt.datetime | None,
                     event_type: str | None, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        """One page of changes across records, oldest first: by whom, in [since, until), of a type."""
        t = self.table
        query = select(t)
        if actor_id is not None:
            query = query.where(t.c.actor_id == str(actor_id))
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        if event_type:
            query = query.where(t.c.event_type == event_type)
        rows, next_cursor = await self.paginate(query, keys=[t.c.at, t.c.id], limit=limit, cursor=cursor)
        return [_entry(row, diff(await self._state_before(row["subject"], row["at"], row["id"]),
                                 json.loads(row["state"]))) for row in rows], next_cursor


def _page(items: list[dict], next_cursor: str | None) -> Response:
    """An AuditPage serialised as built: `_entry` makes each entry from the typed audit row in
    AuditEntry's field order and aliases (the audit API tests validate answers against AuditPage).
    Re-validating a page of a hundred entries through the response model cost about as much as
    reading and diffing them."""
    return Response(to_json({"items": items, "next_cursor": next_cursor}), media_type="application/json")


def _entry(row, changes: list[dict]) -> dict:
    return dict(event_id=row["event_id"], event_type=row["event_type"], subject=row["subject"],
                version=row["sequence"], actor_id=row["actor_id"], at=row["at"], changes=changes)


@dataclass(frozen=True)
class History:
    """One aggregate's history route: `path` ends in `/history`; `record` is a dependency that takes
    the path's id, checks the caller may see the record (NotFound otherwise) and returns the id."""
    path: str
    what: str
    record: Callable[..., Any]


def audit_router(histories: Sequence[History], *, tag: str) -> APIRouter:
    """The history routes of a service's aggregates and its admin audit query."""
    router = APIRouter(tags=[tag])
    for history in histories:
        _add_history_route(router, history)

    @router.get("/v1/admin/audit", response_model=AuditPage, tags=["audit"],
                summary="Changes across this service's records by actor, time range and event type (admin)",
                responses=problem_responses(403))
    async def audit_search(principal: PrincipalDep, runtime: RuntimeDep,
                           actor: Annotated[uuid.UUID | None, Query(description="who made the changes")] = None,
                           since: Annotated[dt.datetime | None, Query(alias="from", description="inclusive")] = None,
                           until: Annotated[dt.datetime | None, Query(alias="to", description="exclusive")] = None,
                           event_type: Annotated[str | None, Query(alias="type", max_length=200,
                                                                   description="an event type")] = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None):
        if not principal.is_admin:
            raise Forbidden("only an admin can query the audit trail across records")
        for name, value in (("from", since), ("to", until)):
            if value is not None and value.tzinfo is None:
                raise ValidationProblem(f"{name} needs a time zone (e.g. 2026-11-01T00:00:00Z)", field=name)
        if since is not None and until is not None and until <= since:
            raise ValidationProblem("to must be after from", field="to")
        async with runtime.db.read_session() as session:  # reads only (Database.read_session)
            items, next_cursor = await AuditLog(session, runtime.tables.audit).search(
                actor_id=actor, since=since, until=until, event_type=event_type, limit=limit, cursor=cursor)
        return _page(items, next_cursor)

    return router


def _add_history_route(router: APIRouter, history: History) -> None:
    async def record_history(record_id: Annotated[uuid.UUID, Depends(history.record)], runtime: RuntimeDep,
                             limit: Annotated[int, Query(ge=1, le=1000)] = 100, cursor: str | None = None):
        async with runtime.db.read_session() as session:  # reads only (Database.read_session)
            items, next_cursor = await AuditLog(session, runtime.tables.audit).history(
                str(record_id), limit=limit, cursor=cursor)
        return _page(items, next_cursor)

    router.add_api_route(history.path, record_history, methods=["GET"], response_model=AuditPage,
                         summary=f"Who changed which field of the {history.what} from what to what, and when "
                                 "(oldest first, paged)", responses=problem_responses(404),
                         name=f"history_of_{history.what.replace(' ', '_')}")
