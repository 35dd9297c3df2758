"""All SQL of the records slice: one table per kind (contacts, competitors, plans, interactions,
complaints), the same queries for each."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert, select, update

from kam_shared.repository import Repository

from .domain.records import KINDS, Kind, Record
from .models import RECORD_TABLES, contacts

# Lists are in the order people read them: interactions newest first, everything else as entered.
ORDER = {"interaction": ("occurred_at", "desc")}
DEFAULT_ORDER = ("created_at", "asc")


def _fields(kind: Kind) -> list[str]:
    return [f for f in kind.state.model_fields if f not in ("id", "account_id", "version")]


def default_values(kind: Kind) -> dict:
    """Every stored field of the kind with its default (what a create starts from)."""
    return {f: kind.state.model_fields[f].get_default(call_default_factory=True) for f in _fields(kind)}


def record_from_row(kind: Kind, row) -> Record:
    return Record(kind, row["id"], row["account_id"], {f: row[f] for f in _fields(kind)}, row["version"])


def record_columns(record: Record) -> dict:
    return {"account_id": record.account_id, "version": record.version,
            **{f: record.values.get(f) for f in _fields(record.kind)}}


class RecordRepository(Repository):
    async def row(self, kind_name: str, record_id: uuid.UUID, *, lock: bool = False):
        table = RECORD_TABLES[kind_name]
        query = select(table).where(table.c.id == record_id)
        if lock:
            query = self.for_update(query)
        return (await self.session.execute(query)).mappings().first()

    async def add(self, record: Record, *, now: dt.datetime) -> None:
        await self.session.execute(insert(RECORD_TABLES[record.kind.name]).values(
            id=record.id, created_at=now, updated_at=now, **record_columns(record)))

    async def save(self, record: Record, expected_version: int, *, now: dt.datetime) -> bool:
        """Write the record if it is still at `expected_version`; False if someone changed it since."""
        table = RECORD_TABLES[record.kind.name]
        result = await self.session.execute(update(table).where(table.c.id == record.id,
                                                                table.c.version == expected_version)
                                            .values(updated_at=now, **record_columns(record)))
        return result.rowcount == 1

    async def page(self, kind_name: str, account_id: uuid.UUID, *, limit: int, cursor: str | None,
                   filters: dict) -> tuple[list[dict], str | None]:
        table = RECORD_TABLES[kind_name]
        column_name, direction = ORDER.get(kind_name, DEFAULT_ORDER)
        query = select(table).where(table.c.account_id == account_id)
        for column, value in filters.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        return await self.paginate(query, keys=[table.c[column_name], table.c.id], limit=limit,
                                   cursor=cursor,
                                   descending=direction == "desc")

    async def of_account(self, kind_name: str, account_id: uuid.UUID) -> list[Record]:
        table = RECORD_TABLES[kind_name]
        rows = (await self.session.execute(select(table).where(table.c.account_id == account_id))).mappings().all()
        return [record_from_row(KINDS[kind_name], row) for row in rows]

    async def reports_to(self, account_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID | None]:
        """Each contact of the account and whom they report to."""
        rows = (await self.session.execute(select(contacts.c.id, contacts.c.reports_to_id)
                                           .where(contacts.c.account_id == account_id))).all()
        return {r.id: r.reports_to_id for r in rows}

    async def contacts_of(self, account_id: uuid.UUID) -> list[dict]:
        rows = (await self.session.execute(select(contacts).where(contacts.c.account_id == account_id)
                                           .order_by(contacts.c.created_at))).mappings().all()
        return [dict(r) for r in rows]
