"""One wiring point for every service: database, outbox relay, consumers, auth, errors,
health and metrics. Services pass their routers, tables and event handlers; nothing else.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import select, text

from .actor import ActorScope
from .applied import AppliedSignal, notify_channel
from .auth import CurrentAuthority, PrincipalDep, TokenVerifier
from .consumer import ConsumerRunner, Handler
from .contract import service_openapi
from .db import Database
from .docs import install_offline_docs
from .errors import Forbidden, install_error_handlers
from .events import CATALOGUE, DomainEvent, utcnow
from .gc_tuning import settle_after_startup
from .hierarchy import Visibility, user_replica_handlers
from .http import check_if_match, etag  # noqa: F401 - re-exported for existing imports
from .idempotency import IdempotencyMiddleware
from .input_guard import InputGuardMiddleware
from .observability import configure_logging, install_observability
from .outbox import OutboxRelay, add_to_outbox
from .outbox_admin import outbox_admin_router
from .security_headers import install_security_headers
from .settings import ServiceSettings
from .tables import PlumbingTables
from .tracing import configure_tracing

log = logging.getLogger("kam.app")


class UnitOfWork:
    """A DB transaction whose recorded events become outbox rows in the same commit.

    The relay is kicked only after the commit: side effects never precede durability.
    """

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self.session = runtime.db.sessionmaker()
        self._events: list[DomainEvent] = []

    async def __aenter__(self) -> "UnitOfWork":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        """Commits when the block (the use case) returns, rolls back on any error: use cases never
        commit themselves, so a transaction's boundary is always the route's `async with`."""
        try:
            if exc_type is None:
                await self.commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()

    def publish(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        events, self._events = self._events, []
        await add_to_outbox(self.session, self.runtime.tables, f"/kam/{self.runtime.settings.service_name}", events)
        await self.session.commit()
        # A write of this service's own (a rate, a setting) can change what a waiting read answers.
        self.runtime.applied.notify()
        if events:
            self.runtime.relay.kick()


class Runtime:
    def __init__(self, settings: ServiceSettings, tables: PlumbingTables):
        self.settings = settings
        self.tables = tables
        self.db = Database(settings.effective_database_url(), settings.database_pool_size,
                           settings.database_max_overflow)
        self.relay = OutboxRelay(settings, self.db, tables)
        self.verifier = TokenVerifier(settings)
        self.visibility = Visibility(tables.user_replica) if tables.user_replica is not None else None
        # Where a user's current role and active flag are read (team-svc: its own users table).
        self.users_of_record = tables.user_replica
        self.authority = CurrentAuthority(self.user_authority)
        self.consumer: ConsumerRunner | None = None
        # Wakes waiting reads (If-None-Match + Prefer: wait) when the consumer commits a batch.
        self.applied = AppliedSignal(settings.effective_database_url(), notify_channel(settings.service_name))
        self.tasks: list[asyncio.Task] = []
        # How to reach another service: a client factory per service name; empty means "by the URL
        # in settings" (kam_shared.peers). Tests put a peer's real in-process app here.
        self.peers: dict[str, Callable[[], Any]] = {}
        self.extras: dict[str, Any] = {}

    async def user_authority(self, user_id) -> tuple[str, bool] | None:
        """(role, active) of a user as this service knows it now; None if it has no row (yet), or
        no copy of the users at all (then the token's claims stand)."""
        users = self.users_of_record
        if users is None:
            return None
        async with self.db.read_session() as session:
            row = (await session.execute(select(users.c.role, users.c.active)
                                         .where(users.c.id == user_id))).first()
        return (row.role, row.active) if row else None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.db.session() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"{type(exc).__name__}: {exc}"[:200]
        broker_ok = self.relay.broker_ok and (self.consumer is None or self.consumer.broker_ok)
        checks["broker"] = "ok" if broker_ok else (
            self.relay.last_error or (self.consumer and self.consumer.last_error) or "not connected yet")
        if self.consumer is not None and self.settings.run_background_workers:
            # Connected is not enough: a consumer whose commits the broker rejects, or that waits on
            # a broker that never answers, is connected and applies nothing.
            checks["consumer"] = self.consumer.progress()["stalled"] or "ok"
        return checks


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop on every request.
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    tables: PlumbingTables,
    routers: Sequence[APIRouter],
    handlers: dict[str, Handler] | None = None,
    on_startup: Sequence[Callable[[Runtime], Awaitable[None]]] = (),
    resources: Sequence[Callable[[Runtime], AbstractAsyncContextManager]] = (),
    runtime_class: type[Runtime] = Runtime,
) -> FastAPI:
    """`runtime_class`: a Runtime subclass with the service's own typed attributes (a key ring, a
    read pool, caches). `resources`: async context managers entered in order at start-up (after
    `on_startup`) and left in reverse order at shutdown, e.g. a pool that must be disposed."""
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)
    all_handlers: dict[str, Handler] = {}
    if tables.user_replica is not None:
        all_handlers.update(user_replica_handlers(tables))
    all_handlers.update(handlers or {})

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime = runtime_class(settings, tables)
        app.state.runtime = runtime
        for hook in on_startup:
            await hook(runtime)
        held = AsyncExitStack()
        for resource in resources:
            await held.enter_async_context(resource(runtime))
        if all_handlers:
            runtime.consumer = ConsumerRunner(
                settings, runtime.db, tables, all_handlers,
                outbox_written=runtime.relay.kick, applied=runtime.applied.notify)
        if settings.run_background_workers:
            runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
            if runtime.consumer:
                runtime.tasks.append(asyncio.create_task(runtime.consumer.run(), name="consumer"))
        settle_after_startup()  # kam_shared.gc_tuning: full collections no longer walk start-up's heap
        log.info("%s started", settings.service_name)
        try:
            yield
        finally:
            await held.aclose()
            await runtime.applied.stop()
            await runtime.relay.stop()
            if runtime.consumer:
                await runtime.consumer.stop()
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await runtime.db.dispose()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan,
                  openapi_url="/openapi.json", docs_url=None, redoc_url=None)
    # The document every client is generated from: real error answers and headers (kam_shared.contract).
    app.openapi = lambda: service_openapi(app)
    install_offline_docs(app)
    # What this service's consumer group reads (the AsyncAPI document's consumer groups are held to it).
    app.state.consumed_topics = sorted({CATALOGUE[t].topic for t in all_handlers})
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(InputGuardMiddleware, max_body_bytes=settings.kam_max_body_bytes)  # before the key is claimed
    install_security_headers(app, settings.kam_cors_allow_origins)
    install_observability(app, settings.service_name, lambda: app.state.runtime.readiness())
    app.add_middleware(ActorScope)  # the events a request causes name its caller, and nothing after it
    for router in routers:
        app.include_router(router)
    if all_handlers:
        app.include_router(_consumer_status_router())
    app.include_router(outbox_admin_router())
    return app


def _consumer_status_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/v1/admin/consumer", summary="Events applied by this service's consumer group, and its lag (admin)")
    async def consumer_status(principal: PrincipalDep, runtime: RuntimeDep):
        if not principal.is_admin:
            raise Forbidden("only an admin can read consumer status")
        status = runtime.tables.read_model_status
        async with runtime.db.session() as session:
            row = (await session.execute(select(status).where(
                status.c.name == runtime.settings.service_name))).mappings().first()
        last = row["last_event_time"] if row else None
        return {"group": runtime.settings.service_name, "events_applied": row["events_applied"] if row else 0,
                "last_event_time": last, "last_applied_at": row["last_applied_at"] if row else None,
                "lag_s": round((utcnow() - last).total_seconds(), 3) if last else None,
                "connected": bool(runtime.consumer and runtime.consumer.broker_ok),
                # Progress: `stalled` says why not (lag and nothing applied, or no answer from the
                # broker, for consumer_stall_s); commit failures and client rebuilds since start.
                **(runtime.consumer.progress() if runtime.consumer else {}),
                # This instance's share of the group: replicas beyond the partition count hold none.
                "partitions": runtime.consumer.partitions() if runtime.consumer else []}

    return router
