"""Async engine and session plumbing shared by every service."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .tracing import instrument_engine


def is_sqlite(url_or_engine) -> bool:
    url = str(getattr(url_or_engine, "url", url_or_engine))
    return url.startswith("sqlite")


# Set on every PostgreSQL connection of a service. jit off: once a plan's estimated cost passes
# jit_above_cost, PostgreSQL first compiles it with LLVM, ~140 ms here, for statements that run in
# 5-200 ms. Estimates of CTEs and window results are rough, so a harmless rewrite of
# pipeline-changes' statement crossed it and doubled its time; the services run short statements
# only, where JIT never pays.
SERVER_SETTINGS = {"plan_cache_mode": "force_custom_plan", "jit": "off"}


def make_engine(url: str, pool_size: int = 16, max_overflow: int = 8) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - driver hook
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the single writer; foreign keys are off by default.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # No pool_pre_ping: with asyncpg it costs BEGIN/ping/ROLLBACK on every checkout, three round
    # trips per request. Disconnects are handled optimistically instead: the first error that
    # shows the server went away invalidates the whole pool, and recycling retires old sockets.
    # force_custom_plan: asyncpg prepares every statement, and after five runs PostgreSQL may
    # switch to a generic plan in which `IN ($1 .. $500)` is a linear search per row (seconds on
    # a large table). A plan made for the actual values costs a fraction of a millisecond.
    # (jit off: see SERVER_SETTINGS.)
    return create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
                               connect_args={"server_settings": SERVER_SETTINGS})


class Database:
    def __init__(self, url: str, pool_size: int = 16, max_overflow: int = 8):
        self.url = url
        self.engine = make_engine(url, pool_size, max_overflow)
        instrument_engine(self.engine)  # each statement a span of the request's (or event's) trace
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Same pool, connections switched to autocommit while checked out (an attribute with asyncpg
        # and aiosqlite, no round trip), for `read_session`.
        self.read_sessionmaker = async_sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                                    expire_on_commit=False)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for a request that only reads: autocommit, so its SELECTs go without the
        BEGIN and ROLLBACK round trips a transaction puts around them (two of the four round trips
        of a one-row GET). Nothing is lost for reads: under READ COMMITTED every statement takes its
        own snapshot inside a transaction too. Never write through it (a write would commit at once,
        alone) and take no row locks (FOR UPDATE needs a transaction): that is what `session()` and
        the unit of work are for."""
        async with self.read_sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
