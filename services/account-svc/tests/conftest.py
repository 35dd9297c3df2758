"""One account-svc app (real migrated database) for this folder's API tests, with its user replica
fed through the real consumer path. team-svc is stood in for by `TeamDirectory`, which answers
`GET /v1/users/{id}` in team-svc's contract shape: account-svc asks it only for users its replica has
not seen yet."""
import uuid
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from kam_shared.events import DomainEvent, UserState, UserUpdated
from kam_shared.testing import feed, outbox_rows, service_client, user_event


class TeamDirectory:
    """team-svc's user directory as seen over HTTP (404 for a user it does not know)."""

    def __init__(self):
        self.users: dict[str, dict] = {}
        self.calls = 0

    def add(self, user_id: uuid.UUID, role: str = "rep", superior_id: uuid.UUID | None = None) -> None:
        self.users[str(user_id)] = {"id": str(user_id), "email": f"{user_id.hex[:8]}@team.test", "name": "New Hire",
                                    "role": role, "superior_id": str(superior_id) if superior_id else None,
                                    "active": True, "version": 1}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert request.headers["authorization"].startswith("Bearer ")
        user_id = request.url.path.rsplit("/", 1)[-1]
        if user_id in self.users:
            return httpx.Response(200, json=self.users[user_id])
        return httpx.Response(404, json={"title": "Not found", "status": 404, "detail": "user not found"})


@pytest.fixture(scope="session")
def people():
    ids = {name: uuid.uuid4() for name in ("director", "manager", "rep", "peer", "other_rep", "left", "admin")}
    return SimpleNamespace(**ids)


@pytest.fixture(scope="session")
async def accounts(people):
    p = people
    async with service_client("account-svc") as client:
        left = UserState(id=p.left, email="left@test.example", name="Left", role="rep", superior_id=p.manager,
                         active=False, version=2)
        await feed(client.runtime,
                   user_event(p.admin, "admin", None), user_event(p.director, "manager", None),
                   user_event(p.manager, "manager", p.director), user_event(p.rep, "rep", p.manager),
                   user_event(p.peer, "rep", p.manager), user_event(p.other_rep, "rep", None),
                   user_event(p.left, "rep", p.manager),
                   DomainEvent("kam.team.user_updated.v1", p.left, 2, UserUpdated(user=left))
                   .to_cloudevent("/kam/team-svc"))
        directory = TeamDirectory()
        client.team = directory
        client.runtime.peers["team-svc"] = lambda: httpx.AsyncClient(
            transport=httpx.MockTransport(directory.handler), base_url="http://team-svc")
        yield client


@pytest.fixture
def snapshot_counts(accounts):
    """Outbox rows and rows of every account-svc table: compare before/after a refused request."""
    from account_svc.models import metadata

    async def take() -> dict:
        counts = {"outbox": len(await outbox_rows(accounts.runtime))}
        async with accounts.runtime.db.session() as session:
            for name in ("accounts", "owner_history", "contacts", "competitors", "plans", "interactions",
                         "complaints", "user_replica"):
                counts[name] = await session.scalar(select(func.count()).select_from(metadata.tables[name]))
        return counts

    return take
