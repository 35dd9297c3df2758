"""One opportunity-svc (real app, migrated database) for the whole test session; each test builds its
own small organisation (`world.user(...)`, `world.account(...)`) so tests do not see each other's data."""
import uuid
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select

from kam_shared.events import AccountCreated, AccountState, DomainEvent
from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event
from opportunity_svc.opportunities.models import opportunities


def account_event(account_id, owner, version=1, name="Bank of Tests"):
    return DomainEvent("kam.account.created.v1", account_id, version, AccountCreated(account=AccountState(
        id=account_id, name=name, owner_id=owner, version=version))).to_cloudevent("/kam/account-svc")


class World:
    def __init__(self, client):
        self.client = client
        self.runtime = client.runtime

    async def user(self, role: str = "rep", superior: uuid.UUID | None = None, active: bool = True) -> uuid.UUID:
        user_id = uuid.uuid4()
        event = user_event(user_id, role, superior)
        if not active:
            event.data["user"]["active"] = False
        await feed(self.runtime, event)
        return user_id

    async def account(self, owner: uuid.UUID | None = None) -> uuid.UUID:
        account_id = uuid.uuid4()
        await feed(self.runtime, account_event(account_id, owner))
        return account_id

    @staticmethod
    def body(account_id, owner_id, **over) -> dict:
        return {"account_id": str(account_id), "name": "Core banking renewal", "amount": "100000.00",
                "currency": "CNY", "close_date": "2026-12-15", "owner_id": str(owner_id), **over}

    async def opportunity(self, owner: uuid.UUID, account: uuid.UUID | None = None, *,
                          by: tuple[uuid.UUID, str] | None = None, **over) -> dict:
        """`by`: (user, role) who creates it, default the owner (who must be able to see the account)."""
        account = account or await self.account(owner)
        resp = await self.client.post("/v1/opportunities", headers=bearer(*by) if by else bearer(owner),
                                      json=self.body(account, owner, **over))
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def product(self, family: str = "hardware", name: str = "Server", active: bool = True) -> str:
        """A product of the catalogue (made by an admin), its code unique to the test."""
        admin = await self.user("admin")
        code = f"P-{uuid.uuid4().hex[:12]}"
        resp = await self.client.post("/v1/products", headers=bearer(admin),
                                      json={"code": code, "name": name, "family": family, "active": active})
        assert resp.status_code == 201, resp.text
        return code

    async def known_product(self, code: str, family: str = "hardware") -> str:
        """A product with this fixed code (made once per database; shared, never changed by tests)."""
        admin = await self.user("admin")
        resp = await self.client.post("/v1/products", headers=bearer(admin),
                                      json={"code": code, "name": code, "family": family})
        assert resp.status_code in (201, 409), resp.text
        return code

    async def outbox(self) -> list[dict]:
        return await outbox_rows(self.runtime)

    async def count(self, table=opportunities) -> int:
        async with self.runtime.db.session() as session:
            return await session.scalar(select(func.count()).select_from(table))

    async def unchanged(self, table=None):
        """A marker of what is written; `await world.assert_unchanged(marker)` after a refused request."""
        return (len(await self.outbox()), await self.count(), await self.count(table) if table is not None else None)

    async def assert_unchanged(self, marker, table=None) -> None:
        assert await self.unchanged(table) == marker, "a refused request wrote something"


def assert_problem(resp, status: int, mentions: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert mentions in body["detail"] + str(body.get("field", "")), body
    return body


@pytest.fixture(scope="session")
async def opps():
    async with service_client("opportunity-svc") as client:
        yield client


@pytest.fixture
def world(opps) -> World:
    return World(opps)


@pytest.fixture
def isolated():
    """A World on a database of its own, for tests that change global state (the stage model)."""
    @asynccontextmanager
    async def make():
        async with service_client("opportunity-svc") as client:
            yield World(client)
    return make


@pytest.fixture
def problem():
    return assert_problem
