"""The autocommit read pool of the hot read paths (is-above, subtree, chain, match)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from .runtime import TeamRuntime


@asynccontextmanager
async def read_only(runtime: TeamRuntime) -> AsyncIterator[AsyncConnection]:
    """A connection for the hot read paths (is-above, subtree, chain, match): autocommit, so no
    BEGIN / ROLLBACK round trips around the SELECTs. Nothing is lost: under READ COMMITTED each
    statement reads its own snapshot inside a transaction too. On PostgreSQL it comes from a small
    pool whose connections are autocommit from the start: the pool's liveness ping is then one
    round trip instead of three (BEGIN; ROLLBACK around it otherwise)."""
    engine = runtime.read_engine or runtime.db.engine
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")
