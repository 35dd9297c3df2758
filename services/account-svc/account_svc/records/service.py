"""Use cases for the records kept per account: contacts, competitor entries, plans, interactions,
complaints. One lifecycle for all (domain/records.py); what differs is which references must hold.
Builds on the accounts slice (one way): a record is visible when its account is."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from kam_shared.app import Runtime, UnitOfWork
from kam_shared.auth import Principal
from kam_shared.domain_errors import Conflict, NotFound, PreconditionFailed, ValidationProblem
from kam_shared.events import DomainEvent, utcnow
from kam_shared.events.account import MergedRecords
from kam_shared.http import check_if_match

from ..accounts.service import visible_account
from ..common import directory
from .domain.buying_centre import check_reports_to, counts, coverage_gaps, org_chart
from .domain.records import KINDS, Kind, Record
from .models import RECORD_TABLES
from .repository import RecordRepository, default_values, record_from_row

References = list[tuple[str, uuid.UUID]]  # (field, id) pairs


async def _account_row(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID, *,
                       for_change: bool):
    row = await visible_account(session, runtime, principal, account_id)
    if for_change and row["merged_into_id"] is not None:
        raise Conflict(f"account {account_id} was merged into {row['merged_into_id']}; use the survivor",
                       field="account_id", merged_into_id=str(row["merged_into_id"]))
    return row


# --- references ---------------------------------------------------------------------------------

def _plan_references(values: dict, users: References, their: References) -> None:
    for i, c in enumerate(values.get("coverage") or []):
        _add(users, f"coverage[{i}].user_id", c.get("user_id"))
        _add(their, f"coverage[{i}].contact_id", c.get("contact_id"))
    for i, a in enumerate(values.get("actions") or []):
        _add(users, f"actions[{i}].owner_id", a.get("owner_id"))
    for i, m in enumerate(values.get("sponsor_meetings") or []):
        _add(users, f"sponsor_meetings[{i}].executive_id", m.get("executive_id"))
        _add(their, f"sponsor_meetings[{i}].contact_id", m.get("contact_id"))


def _interaction_references(values: dict, users: References, their: References) -> None:
    for i, u in enumerate(values.get("our_attendee_ids") or []):
        _add(users, f"our_attendee_ids[{i}]", u)
    for i, c in enumerate(values.get("contact_ids") or []):
        _add(their, f"contact_ids[{i}]", c)


def _add(target: References, field: str, value) -> None:
    if value is not None:
        target.append((field, uuid.UUID(str(value))))


def references(kind: Kind, values: dict) -> tuple[References, References]:
    """(our people named, their contacts named) in a record's values, each with the field naming it."""
    users: References = []
    their: References = []
    if kind.name == "contact":
        _add(their, "reports_to_id", values.get("reports_to_id"))
    elif kind.name == "plan":
        _plan_references(values, users, their)
    elif kind.name == "interaction":
        _interaction_references(values, users, their)
    elif kind.name == "complaint":
        _add(users, "assignee_id", values.get("assignee_id"))
        _add(their, "contact_id", values.get("contact_id"))
    return users, their


def _manager_chain(manager: uuid.UUID, known: dict[uuid.UUID, uuid.UUID | None]) -> list[uuid.UUID]:
    """The manager followed by everyone above them in the customer's org chart."""
    chain, seen = [], set()
    current = manager
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(current)
        current = known.get(current)
    return chain


async def _check_contacts(repo: RecordRepository, kind: Kind, account_id: uuid.UUID, values: dict,
                          record_id: uuid.UUID | None, their: References) -> None:
    known = await repo.reports_to(account_id)
    for field, contact_id in their:
        if contact_id not in known:
            raise ValidationProblem(f"{field}: contact {contact_id} is not a contact of account {account_id}",
                                    field=field)
    if kind.name == "contact" and record_id is not None and values.get("reports_to_id") is not None:
        manager = uuid.UUID(str(values["reports_to_id"]))
        check_reports_to(record_id, manager, _manager_chain(manager, known))


async def _check_references(session: AsyncSession, runtime: Runtime, principal: Principal, kind: Kind,
                            account_id: uuid.UUID, values: dict, record_id: uuid.UUID | None) -> None:
    """Contacts named must belong to this account; our people named must exist and be active."""
    users, their = references(kind, values)
    if their:
        await _check_contacts(RecordRepository(session), kind, account_id, values, record_id, their)
    for field, user_id in users:
        await directory.require_active_user(session, runtime, principal, user_id, field)


# --- use cases ----------------------------------------------------------------------------------

def _creation_values(kind: Kind, principal: Principal, values: dict, now: dt.datetime) -> dict:
    """Defaults, then what was sent, then what the kind fills in itself (who logged it, when raised)."""
    full = default_values(kind)
    if kind.name == "interaction":
        values.setdefault("logged_by", principal.user_id)
        if not values.get("our_attendee_ids"):
            values["our_attendee_ids"] = [principal.user_id]
    if kind.name == "complaint" and values.get("raised_at") is None:
        values["raised_at"] = now
    full.update(values)
    return full


async def add_record(uow: UnitOfWork, runtime: Runtime, principal: Principal, kind_name: str,
                     account_id: uuid.UUID, values: dict) -> dict:
    kind = KINDS[kind_name]
    session = uow.session
    await _account_row(session, runtime, principal, account_id, for_change=True)
    now = utcnow()
    full = _creation_values(kind, principal, values, now)
    await _check_references(session, runtime, principal, kind, account_id, full, None)
    record = Record.create(kind, account_id, full, by=principal.user_id, now=now)
    await RecordRepository(session).add(record, now=now)
    uow.publish(*record.events)
    return await get_record(session, runtime, principal, kind_name, record.id)


async def _record_row(session: AsyncSession, runtime: Runtime, principal: Principal, kind_name: str,
                      record_id: uuid.UUID, *, lock: bool = False):
    row = await RecordRepository(session).row(kind_name, record_id, lock=lock)
    if row is None:
        raise NotFound(f"{kind_name} {record_id} not found")
    try:
        await visible_account(session, runtime, principal, row["account_id"])
    except NotFound:
        raise NotFound(f"{kind_name} {record_id} not found") from None
    return row


async def get_record(session: AsyncSession, runtime: Runtime, principal: Principal, kind_name: str,
                     record_id: uuid.UUID) -> dict:
    return dict(await _record_row(session, runtime, principal, kind_name, record_id))


async def update_record(uow: UnitOfWork, runtime: Runtime, principal: Principal, kind_name: str,
                        record_id: uuid.UUID, values: dict, if_match: str | None) -> dict:
    kind = KINDS[kind_name]
    session = uow.session
    row = await _record_row(session, runtime, principal, kind_name, record_id, lock=True)
    check_if_match(if_match, row["version"])
    await _account_row(session, runtime, principal, row["account_id"], for_change=True)
    await _check_references(session, runtime, principal, kind, row["account_id"], values, record_id)
    record = record_from_row(kind, row)
    before = record.version
    now = utcnow()
    if record.update(values, by=principal.user_id, now=now):
        if not await RecordRepository(session).save(record, before, now=now):
            raise PreconditionFailed(f"{kind_name} {record_id} changed concurrently; reload and retry")
        uow.publish(*record.events)
    return await get_record(session, runtime, principal, kind_name, record_id)


async def list_records(session: AsyncSession, runtime: Runtime, principal: Principal, kind_name: str,
                       account_id: uuid.UUID, *, limit: int, cursor: str | None, **filters) -> dict:
    await _account_row(session, runtime, principal, account_id, for_change=False)
    items, next_cursor = await RecordRepository(session).page(kind_name, account_id, limit=limit, cursor=cursor,
                                                              filters=filters)
    return {"items": items, "next_cursor": next_cursor}


async def buying_centre(session: AsyncSession, runtime: Runtime, principal: Principal, account_id: uuid.UUID) -> dict:
    await _account_row(session, runtime, principal, account_id, for_change=False)
    rows = await RecordRepository(session).contacts_of(account_id)
    return {"account_id": account_id, "contacts": sum(1 for r in rows if r["active"]), "counts": counts(rows),
            "gaps": [g.__dict__ for g in coverage_gaps(rows)], "org_chart": org_chart(rows)}


async def move_records(session: AsyncSession, from_account_id: uuid.UUID, to_account_id: uuid.UUID, *,
                       by: uuid.UUID | None, now: dt.datetime, moved: MergedRecords) -> list[DomainEvent]:
    """A merge: every record of `from_account_id` moves to `to_account_id` (each its own updated
    event, cause merge); their ids are noted in `moved`. Returns the events to publish."""
    repo = RecordRepository(session)
    events: list[DomainEvent] = []
    for kind_name in RECORD_TABLES:
        for record in await repo.of_account(kind_name, from_account_id):
            version = record.version
            record.move_to(to_account_id, by=by)
            if not await repo.save(record, version, now=now):
                raise PreconditionFailed(f"{kind_name} {record.id} changed concurrently; retry the merge")
            events.extend(record.events)
            getattr(moved, f"{kind_name}_ids").append(record.id)
    return events
