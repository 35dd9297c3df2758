"""Test helpers shared by every service's tests: databases, tokens, an in-process client.

Nothing here mocks the database or the broker: databases are real (PostgreSQL when one
answers at 127.0.0.1:$KAM_PG_PORT, default 5432, else SQLite files) and migrated by Alembic.
"""
from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

import httpx

from .auth import SigningKey, jwks_document
from .devstack import VAR, _pg_admin, pg_url, postgres_available
from .migrations import upgrade_async
from .services import SERVICES


@lru_cache
def signing_key_for_tests() -> SigningKey:
    return SigningKey.generate()


def jwks_json_for_tests() -> str:
    return json.dumps(jwks_document([signing_key_for_tests()]))


def token_for(user_id: uuid.UUID, role: str = "rep", email: str | None = None, lifetime_s: int = 3600) -> str:
    return signing_key_for_tests().issue(user_id=user_id, email=email or f"{user_id.hex[:8]}@test.example",
                                    role=role, issuer="kam-team-svc", audience="kam", lifetime_s=lifetime_s)


def bearer(user_id: uuid.UUID, role: str = "rep") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user_id, role)}"}


@asynccontextmanager
async def fresh_database(label: str):
    """A new, empty database for one test session; dropped afterwards."""
    if postgres_available():
        name = f"kam_t_{label.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        await _pg_admin([f'CREATE DATABASE "{name}"'])
        try:
            yield pg_url(name)
        finally:
            await _pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])
    else:
        path: Path = VAR / "test" / f"{label}-{uuid.uuid4().hex[:8]}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)


@asynccontextmanager
async def service_client(service: str, **settings_overrides):
    """The service's real app (migrated database, lifespan run) behind an in-process HTTP client.

    Background workers (relay, consumers) are off unless asked for: API tests read the
    outbox table to see what would be published, and feed replicas through the consumer's
    own `handle()`.
    """
    info = SERVICES[service]
    async with fresh_database(service) as url:
        await upgrade_async(info.dir, url)
        settings_cls = type(info.settings())
        overrides = {"database_url": url, "kam_jwks_json": jwks_json_for_tests(), "run_background_workers": False,
                     "kafka_bootstrap_servers": "127.0.0.1:1"}
        overrides.update(settings_overrides)
        settings = settings_cls(**overrides)
        module = __import__(f"{info.module}.main", fromlist=["create_app"])
        app = module.create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as client:
                client.runtime = app.state.runtime  # type: ignore[attr-defined]
                yield client


@asynccontextmanager
async def another_replica(client, service: str):
    """A second instance of the service behind `client`, on the same database and settings (what
    a second Kubernetes replica is), with its own in-process HTTP client."""
    module = __import__(f"{SERVICES[service].module}.main", fromlist=["create_app"])
    app = module.create_app(client.runtime.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as other:
            other.runtime = app.state.runtime  # type: ignore[attr-defined]
            yield other


async def outbox_rows(runtime) -> list[dict]:
    from sqlalchemy import select

    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.tables.outbox).order_by(runtime.tables.outbox.c.id))).mappings()
        return [dict(r) for r in rows]


async def feed(runtime, *events) -> None:
    """Apply events through the service's own consumer path (inbox, sequence guard, handler)."""
    for event in events:
        await runtime.consumer.handle(event)


def user_event(user_id: uuid.UUID, role: str, superior_id: uuid.UUID | None, version: int = 1,
               created: bool = True):
    from .events import CloudEvent, DomainEvent, UserCreated, UserState, UserUpdated

    state = UserState(id=user_id, email=f"{user_id.hex[:8]}@test.example", name=f"user {user_id.hex[:4]}",
                      role=role, superior_id=superior_id, version=version)
    data = UserCreated(user=state) if created else UserUpdated(user=state)
    kind = "kam.team.user_created.v1" if created else "kam.team.user_updated.v1"
    ce: CloudEvent = DomainEvent(kind, user_id, version, data).to_cloudevent("/kam/team-svc")
    return ce


class StackClient:
    """What a client of a running stack does: sign in, call services, read roll-ups."""

    def __init__(self, stack):
        self.stack = stack
        self.http = httpx.Client(timeout=10)

    def token(self, email: str, password: str) -> dict[str, str]:
        resp = self.http.post(f"{self.stack.url('team-svc')}/v1/auth/token",
                              data={"username": email, "password": password})
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def call(self, method: str, service: str, path: str, auth: dict, **kw) -> httpx.Response:
        return self.http.request(method, f"{self.stack.url(service)}{path}", headers=auth, **kw)

    def rollup(self, auth: dict, node: str, period: str = "2026-Q4", **params) -> dict:
        resp = self.call("GET", "forecast-svc", "/v1/rollups", auth, params={"node": node, "period": period, **params})
        return resp.json() if resp.status_code == 200 else {"status": resp.status_code}


def wait_for(fetch, predicate, timeout: float = 10.0):
    """Poll `fetch()` until `predicate` holds; returns (value, monotonic time seen)."""
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if predicate(last):
            return last, time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last}")
