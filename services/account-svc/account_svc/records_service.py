"""Use cases for the records kept per account: contacts, competitor entries, plans, interactions,
complaints. One lifecycle for all (domain/records.py); what differs is which references must hold."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork, check_if_match
from kam_shared.auth import Principal
from kam_shared.errors import Conflict, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import utcnow
from kam_shared.pagination import decode_cursor, encode_cursor

from . import directory
from .domain.buying_centre import check_reports_to, counts, coverage_gaps, org_chart
from .domain.records import KINDS, Kind, Record
from .models import RECORD_TABLES, contacts
from .service import visible_account

# Lists are in the order people read them: interactions newest first, everything else as entered.
ORDER = {"interaction": ("occurred_at", "desc")}
DEFAULT_ORDER = ("created_at", "asc")


def _fields(kind: Kind) -> list[str]:
    return [f for f in kind.state.model_fields if f not in ("id", "account_id", "version")]


def record_from_row(kind: Kind, row) -> Record:
    return Record(kind, row["id"], row["account_id"], {f: row[f] for f in _fields(kind)}, row["version"])


def record_columns(record: Record) -> dict:
    return {"account_id": record.account_id, "version": record.version,
            **{f: record.values.get(f) for f in _fields(record.kind)}}


async def _account_row(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID, *,
                       for_change: bool):
    row = await visible_account(session, runtime, principal, account_id)
    if for_change and row["merged_into_id"] is not None:
        raise Conflict(f"account {account_id} was merged into {row['merged_into_id']}; use the survivor",
                       field="account_id", merged_into_id=str(row["merged_into_id"]))
    return row


# --- references ---------------------------------------------------------------------------------

async def _account_contact_ids(session: AsyncSession, account_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID | None]:
    rows = (await session.execute(select(contacts.c.id, contacts.c.reports_to_id)
                                  .where(contacts.c.account_id == account_id))).all()
    return {r.id: r.reports_to_id for r in rows}


async def _check_references(session: AsyncSession, runtime: Runtime, principal: Principal, kind: Kind,
                            account_id: uuid.UUID, values: dict, record_id: uuid.UUID | None) -> None:
    """Contacts named must belong to this account; our people named must exist and be active."""
    users: list[tuple[str, uuid.UUID]] = []
    their: list[tuple[str, uuid.UUID]] = []

    def add(target: list, field: str, value) -> None:
        if value is not None:
            target.append((field, uuid.UUID(str(value))))

    if kind.name == "contact":
        add(their, "reports_to_id", values.get("reports_to_id"))
    elif kind.name == "plan":
        for i, c in enumerate(values.get("coverage") or []):
            add(users, f"coverage[{i}].user_id", c.get("user_id"))
            add(their, f"coverage[{i}].contact_id", c.get("contact_id"))
        for i, a in enumerate(values.get("actions") or []):
            add(users, f"actions[{i}].owner_id", a.get("owner_id"))
        for i, m in enumerate(values.get("sponsor_meetings") or []):
            add(users, f"sponsor_meetings[{i}].executive_id", m.get("executive_id"))
            add(their, f"sponsor_meetings[{i}].contact_id", m.get("contact_id"))
    elif kind.name == "interaction":
        for i, u in enumerate(values.get("our_attendee_ids") or []):
            add(users, f"our_attendee_ids[{i}]", u)
        for i, c in enumerate(values.get("contact_ids") or []):
            add(their, f"contact_ids[{i}]", c)
    elif kind.name == "complaint":
        add(users, "assignee_id", values.get("assignee_id"))
        add(their, "contact_id", values.get("contact_id"))
    if their:
        known = await _account_contact_ids(session, account_id)
        for field, contact_id in their:
            if contact_id not in known:
                raise ValidationProblem(f"{field}: contact {contact_id} is not a contact of account {account_id}",
                                        field=field)
        if kind.name == "contact" and record_id is not None and values.get("reports_to_id") is not None:
            manager = uuid.UUID(str(values["reports_to_id"]))
            chain, seen = [], set()
            current = manager
            while current is not None and current not in seen:  # up the customer's org chart
                seen.add(current)
                chain.append(current)
                current = known.get(current)
            check_reports_to(record_id, manager, chain)
    for field, user_id in users:
        await directory.require_active_user(session, runtime, principal, user_id, field)


# --- use cases ----------------------------------------------------------------------------------

def _present(row) -> dict:
    return dict(row)


async def add_record(uow: UnitOfWork, runtime: Runtime, principal: Principal, kind_name: str,
                     account_id: uuid.UUID, values: dict) -> dict:
    kind = KINDS[kind_name]
    session = uow.session
    await _account_row(session, runtime, principal, account_id, for_change=True)
    now = utcnow()
    full = {f: kind.state.model_fields[f].get_default(call_default_factory=True) for f in _fields(kind)}
    if kind.name == "interaction":
        values.setdefault("logged_by", principal.user_id)
        if not values.get("our_attendee_ids"):
            values["our_attendee_ids"] = [principal.user_id]
    if kind.name == "complaint" and values.get("raised_at") is None:
        values["raised_at"] = now
    full.update(values)
    await _check_references(session, runtime, principal, kind, account_id, full, None)
    record = Record.create(kind, account_id, full, by=principal.user_id, now=now)
    table = RECORD_TABLES[kind_name]
    await session.execute(insert(table).values(id=record.id, created_at=now, updated_at=now, **record_columns(record)))
    uow.publish(*record.events)
    await uow.commit()
    return await get_record(session, runtime, principal, kind_name, record.id)


async def _record_row(session: AsyncSession, runtime: Runtime, principal: Principal, kind_name: str,
                      record_id: uuid.UUID, *, for_update: bool = False):
    table = RECORD_TABLES[kind_name]
    query = select(table).where(table.c.id == record_id)
    if for_update and not runtime.db.sqlite:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"{kind_name} {record_id} not found")
    try:
        await visible_account(session, runtime, principal, row["account_id"])
    except NotFound:
        raise NotFound(f"{kind_name} {record_id} not found") from None
    return row


async def get_record(session: AsyncSession, runtime: Runtime, principal: Principal, kind_name: str,
                     record_id: uuid.UUID) -> dict:
    return _present(await _record_row(session, runtime, principal, kind_name, record_id))


async def update_record(uow: UnitOfWork, runtime: Runtime, principal: Principal, kind_name: str,
                        record_id: uuid.UUID, values: dict, if_match: str | None) -> dict:
    kind = KINDS[kind_name]
    session = uow.session
    row = await _record_row(session, runtime, principal, kind_name, record_id, for_update=True)
    check_if_match(if_match, row["version"])
    await _account_row(session, runtime, principal, row["account_id"], for_change=True)
    await _check_references(session, runtime, principal, kind, row["account_id"], values, record_id)
    record = record_from_row(kind, row)
    before = record.version
    if record.update(values, by=principal.user_id, now=utcnow()):
        table = RECORD_TABLES[kind_name]
        result = await session.execute(update(table).where(table.c.id == record_id, table.c.version == before)
                                       .values(updated_at=utcnow(), **record_columns(record)))
        if result.rowcount != 1:
            raise PreconditionFailed(f"{kind_name} {record_id} changed concurrently; reload and retry")
        uow.publish(*record.events)
        await uow.commit()
    return await get_record(session, runtime, principal, kind_name, record_id)


def _keyset(kind_name: str, table, cursor: str | None):
    column_name, direction = ORDER.get(kind_name, DEFAULT_ORDER)
    column = table.c[column_name]
    order = [column.desc(), table.c.id.desc()] if direction == "desc" else [column.asc(), table.c.id.asc()]
    condition = None
    if cursor:
        def parse(value: str):
            stamp, _, record_id = value.partition("|")
            return dt.datetime.fromisoformat(stamp), uuid.UUID(record_id)

        stamp, record_id = decode_cursor(cursor, parse)
        if direction == "desc":
            condition = or_(column < stamp, and_(column == stamp, table.c.id < record_id))
        else:
            condition = or_(column > stamp, and_(column == stamp, table.c.id > record_id))
    return column_name, order, condition


async def list_records(session: AsyncSession, runtime: Runtime, principal: Principal, kind_name: str,
                       account_id: uuid.UUID, *, limit: int, cursor: str | None, **filters) -> dict:
    await _account_row(session, runtime, principal, account_id, for_change=False)
    table = RECORD_TABLES[kind_name]
    column_name, order, condition = _keyset(kind_name, table, cursor)
    query = select(table).where(table.c.account_id == account_id).order_by(*order).limit(limit + 1)
    if condition is not None:
        query = query.where(condition)
    for column, value in filters.items():
        if value is not None:
            query = query.where(table.c[column] == value)
    rows = (await session.execute(query)).mappings().all()
    items = [_present(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(f"{last[column_name].isoformat()}|{last['id']}")
    return {"items": items, "next_cursor": next_cursor}


async def buying_centre(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    await _account_row(session, runtime, principal, account_id, for_change=False)
    rows = [dict(r) for r in (await session.execute(select(contacts).where(contacts.c.account_id == account_id)
                                                    .order_by(contacts.c.created_at))).mappings().all()]
    return {"account_id": account_id, "contacts": sum(1 for r in rows if r["active"]), "counts": counts(rows),
            "gaps": [g.__dict__ for g in coverage_gaps(rows)], "org_chart": org_chart(rows)}

