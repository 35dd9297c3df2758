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


async def upsert_versioned(session: AsyncSession, table: Table, values: dict, key: str = "id",
                           version: str = "version") -> bool:
    """Insert or update the row; returns False when the stored version was as new or newer."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={c: stmt.excluded[c] for c in values if c != key},
        where=table.c[version] < stmt.excluded[version],
    )
    result = await session.execute(stmt)
    return result.rowcount == 1
