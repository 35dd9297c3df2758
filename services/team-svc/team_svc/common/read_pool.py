"""The autocommit read pool of the hot read paths (is-above, subtree, chain, match)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from kam_shared.app import Runtime


async def open_read_pool(runtime: Runtime) -> None:
    """Hot read paths (is-above, subtree, chain, match) use their own autocommit pool on
    PostgreSQL (see read_only)."""
    if not runtime.db.sqlite:
        runtime.extras["read_engine"] = create_async_engine(
            runtime.db.url, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=5, pool_pre_ping=True)


def close_read_pool_at_shutdown(app) -> None:
    """Wraps the app's lifespan so the read pool is disposed after the service stops (kam_shared
    has no resource hooks yet: the lead adds them later, then this patch goes)."""
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app):
        async with serve(app):
            try:
                yield
            finally:
                read_engine = app.state.runtime.extras.pop("read_engine", None)
                if read_engine is not None:
                    await read_engine.dispose()

    app.router.lifespan_context = lifespan


@asynccontextmanager
async def read_only(runtime: Runtime) -> AsyncIterator[AsyncConnection]:
    """A connection for the hot read paths (is-above, subtree, chain, match): autocommit, so no
    BEGIN / ROLLBACK round trips around the SELECTs. Nothing is lost: under READ COMMITTED each
    statement reads its own snapshot inside a transaction too. On PostgreSQL it comes from a small
    pool whose connections are autocommit from the start: the pool's liveness ping is then one
    round trip instead of three (BEGIN; ROLLBACK around it otherwise)."""
    engine = runtime.extras.get("read_engine") or runtime.db.engine
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")
