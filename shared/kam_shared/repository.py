"""The one Repository base: keyset paging and the dialect switches (PostgreSQL or SQLite), once.

A slice's `repository.py` subclasses `Repository` and holds all of that slice's SQL; services never
ask `session.bind.dialect` themselves. Cursors are opaque to clients (kam_shared.pagination) and
keep the shape they always had: the sort key's values joined by `|` (an id alone, or
`<iso timestamp>|<id>`), so a cursor issued before a deploy still works after it.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, and_, any_, bindparam, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from .pagination import decode_cursor, encode_cursor


def is_postgres(session: AsyncSession) -> bool:
    return session.bind.dialect.name == "postgresql"


def dialect_insert(session: AsyncSession, table):
    """INSERT with the dialect's ON CONFLICT support (`on_conflict_do_nothing/update`, `excluded`)."""
    return (postgresql if is_postgres(session) else sqlite).insert(table)


def among(column: ColumnElement, values, session: AsyncSession) -> ColumnElement:
    """`column IN (values)`. On PostgreSQL `column = ANY($1)` over one array parameter: the same
    statement text whatever the number of values, so asyncpg prepares it once per connection and
    SQLAlchemy skips the per-execution expansion (an expanded IN is a new statement for every count,
    prepared again: a consumer applying one, two or three events a batch paid that on every batch)."""
    values = list(values)
    if is_postgres(session):
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def for_update(query: Select, session: AsyncSession, **options) -> Select:
    """Row lock on PostgreSQL; SQLite has one writer at a time, so no lock is needed (or possible)."""
    return query.with_for_update(**options) if is_postgres(session) else query


def _parse_key_part(column: ColumnElement, text: str) -> Any:
    python_type = column.type.python_type
    if python_type is uuid.UUID:
        return uuid.UUID(text)
    if python_type is dt.datetime:
        value = dt.datetime.fromisoformat(text)
        if value.tzinfo is None:  # every stamp we issue carries its zone; one without was forged
            raise ValueError("cursor timestamp without a time zone")
        return value
    if python_type is dt.date:
        return dt.date.fromisoformat(text)
    return python_type(text)


def _format_key_part(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)


class Repository:
    """Base for every slice's repository: holds the session, pages by keyset, knows the dialect."""

    def __init__(self, session: AsyncSession):
        self.session = session

    @property
    def postgres(self) -> bool:
        return is_postgres(self.session)

    def insert(self, table):
        return dialect_insert(self.session, table)

    def for_update(self, query: Select, **options) -> Select:
        return for_update(query, self.session, **options)

    def among(self, column: ColumnElement, values) -> ColumnElement:
        return among(column, values, self.session)

    async def upsert(self, table, rows: Sequence[dict] | dict, *, key: Sequence[str],
                     update: Sequence[str] | None = None) -> None:
        """Insert rows; on a conflict on `key`, overwrite `update` (default: every other column)."""
        rows = [rows] if isinstance(rows, dict) else list(rows)
        if not rows:
            return
        statement = self.insert(table).values(rows)
        columns = update if update is not None else [c for c in rows[0] if c not in key]
        if columns:
            statement = statement.on_conflict_do_update(
                index_elements=[table.c[k] for k in key], set_={c: statement.excluded[c] for c in columns})
        else:
            statement = statement.on_conflict_do_nothing(index_elements=[table.c[k] for k in key])
        await self.session.execute(statement)

    async def paginate(self, query: Select, *, keys: Sequence[ColumnElement], limit: int, cursor: str | None,
                       descending: bool = False, present: Callable[[Any], Any] = dict,
                       field: str = "cursor") -> tuple[list, str | None]:
        """One page of `query` ordered by `keys` (the last one unique, usually the id), starting
        after `cursor`; returns (presented items, next cursor or None). Reads limit + 1 rows to
        know whether there is a next page."""
        after = decode_cursor(cursor, lambda text: self._parse_cursor(keys, text), field=field)
        query = query.order_by(*[k.desc() if descending else k.asc() for k in keys]).limit(limit + 1)
        if after is not None:
            query = query.where(_after(keys, after, descending))
        rows = (await self.session.execute(query)).mappings().all()
        items = [present(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor("|".join(_format_key_part(last[k.key]) for k in keys))
        return items, next_cursor

    @staticmethod
    def _parse_cursor(keys: Sequence[ColumnElement], text: str) -> tuple:
        parts = text.split("|") if len(keys) > 1 else [text]
        if len(parts) != len(keys):
            raise ValueError("cursor does not match the sort key")
        return tuple(_parse_key_part(k, p) for k, p in zip(keys, parts, strict=True))


def _after(keys: Sequence[ColumnElement], values: tuple, descending: bool) -> ColumnElement:
    """(k1, k2, ..) > (v1, v2, ..) spelled with AND/OR, which both dialects index well."""
    first, value = keys[0], values[0]
    beyond = first < value if descending else first > value
    if len(keys) == 1:
        return beyond
    return or_(beyond, and_(first == value, _after(keys[1:], values[1:], descending)))

