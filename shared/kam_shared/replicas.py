"""Read-model writes: one atomic, version-guarded upsert for every replica.

`INSERT … ON CONFLICT (id) DO UPDATE … WHERE stored.version < incoming.version` is the
per-aggregate sequence guard done by the database itself, so two writers of the same row
(a consumer and an HTTP fallback, or two consumers during a rebalance) cannot collide and
an older state can never overwrite a newer one.

A version that jumps implausibly far ahead of the stored one (more than `consumer_max_version_jump`,
or that far for an aggregate the replica has never seen) is refused while an event handler runs
(`version_jump_guard`, set by the consumer runner): a forged event with version 10,000 would otherwise
pin the row, and every later real change would be ignored as stale. The consumer sends such an event
to the DLQ with the reason. HTTP look-ups and snapshot rebuilds are not guarded (their versions come
from the owner itself).
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


class ImplausibleVersion(Exception):
    """An event's version jumps too far ahead of the replica's (or starts too high): never applied."""


# The largest jump an event may make over the stored version; None: not guarded (set by the consumer).
_max_jump: ContextVar[int | None] = ContextVar("kam_max_version_jump", default=None)


@contextmanager
def version_jump_guard(max_jump: int | None) -> Iterator[None]:
    token = _max_jump.set(max_jump or None)
    try:
        yield
    finally:
        _max_jump.reset(token)


async def _check_jumps(session: AsyncSession, table: Table, rows: list[dict], key: str, version: str) -> None:
    """Only a row whose incoming version exceeds the limit can jump by more than it: those alone are
    looked up (one query), so the common case costs nothing."""
    limit = _max_jump.get()
    if limit is None:
        return
    high = {row[key]: row[version] for row in rows if row[version] > limit}
    if not high:
        return
    stored = dict((await session.execute(select(table.c[key], table.c[version])
                                         .where(table.c[key].in_(list(high))))).all())
    for ident, incoming in high.items():
        before = stored.get(ident)
        if incoming - (before or 0) > limit:
            held = f"the replica holds version {before}" if before is not None else "the replica has never seen it"
            raise ImplausibleVersion(f"{table.name} {ident}: version {incoming} jumps more than {limit} ahead "
                                     f"({held}); refused as implausible")


def _versioned_upsert(session: AsyncSession, table: Table, columns, key: str, version: str):
    return _versioned_upsert_statement(session.bind.dialect.name, table, tuple(columns), key, version)


@functools.lru_cache(maxsize=512)
def _versioned_upsert_statement(dialect_name: str, table: Table, columns: tuple[str, ...], key: str, version: str):
    """One statement object per table and column set: building it (the `excluded` alias over every
    column) and its cache key again for every event was a third of a consumer's apply."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={c: stmt.excluded[c] for c in columns if c != key},
        where=table.c[version] < stmt.excluded[version],
    )


async def upsert_versioned(session: AsyncSession, table: Table, values: dict, key: str = "id",
                           version: str = "version") -> bool:
    """Insert or update the row; returns False when the stored version was as new or newer."""
    await _check_jumps(session, table, [values], key, version)
    result = await session.execute(_versioned_upsert(session, table, values, key, version).values(**values))
    return result.rowcount == 1


async def upsert_versioned_many(session: AsyncSession, table: Table, rows: list[dict], key: str = "id",
                                version: str = "version", chunk: int = 2000) -> None:
    """The same for many rows at once (snapshot rebuilds); rows must share their columns."""
    await _check_jumps(session, table, rows, key, version)
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        await session.execute(_versioned_upsert(session, table, part[0], key, version), part)
