"""Read-model writes: one atomic, version-guarded upsert for every replica.

`INSERT … ON CONFLICT (id) DO UPDATE … WHERE stored.version < incoming.version` is the
per-aggregate sequence guard done by the database itself, so two writers of the same row
(a consumer and an HTTP fallback, or two consumers during a rebalance) cannot collide and
an older state can never overwrite a newer one.
"""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def _versioned_upsert(session: AsyncSession, table: Table, columns, key: str, version: str):
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={c: stmt.excluded[c] for c in columns if c != key},
        where=table.c[version] < stmt.excluded[version],
    )


async def upsert_versioned(session: AsyncSession, table: Table, values: dict, key: str = "id",
                           version: str = "version") -> bool:
    """Insert or update the row; returns False when the stored version was as new or newer."""
    result = await session.execute(_versioned_upsert(session, table, values, key, version).values(**values))
    return result.rowcount == 1


async def upsert_versioned_many(session: AsyncSession, table: Table, rows: list[dict], key: str = "id",
                                version: str = "version", chunk: int = 2000) -> None:
    """The same for many rows at once (snapshot rebuilds); rows must share their columns."""
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        await session.execute(_versioned_upsert(session, table, part[0], key, version), part)
