"""One team-svc app (real migrated database, lifespan run) shared by all of team-svc's API tests,
and a small client that signs in as real users: team-svc is the token issuer, so its tests use
the tokens it issues, never test keys."""
import json
import uuid

import pytest
from sqlalchemy import func, select

from kam_shared.testing import outbox_rows, service_client

ADMIN = ("admin@example.com", "kam-dev-passphrase")
PASSWORD = "lamp-tiger-7"


@pytest.fixture(scope="session")
async def team(tmp_path_factory):
    key_file = tmp_path_factory.mktemp("team") / "jwt.pem"
    async with service_client(
            "team-svc", kam_bootstrap_admin_email=ADMIN[0], kam_bootstrap_admin_password=ADMIN[1],
            kam_bootstrap_admin_must_change=False,
            kam_jwt_private_key_file=key_file, kam_jwks_json="",
            # cheap hashing and roomy sign-in limits; test_auth.py tightens the limits on purpose
            kam_password_time_cost=1, kam_password_memory_kib=1024, kam_password_parallelism=1,
            kam_signin_account_free_failures=10_000, kam_signin_address_free_failures=100_000) as client:
        yield client


class Api:
    """What a client of team-svc does, plus what a test checks afterwards (outbox, table counts)."""

    def __init__(self, client):
        self.client = client
        self.runtime = client.runtime
        self._tokens: dict[str, dict] = {}

    async def login(self, email: str, password: str = PASSWORD) -> dict:
        if email not in self._tokens:
            resp = await self.client.post("/v1/auth/token", data={"username": email, "password": password})
            assert resp.status_code == 200, resp.text
            self._tokens[email] = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        return self._tokens[email]

    async def admin(self) -> dict:
        return await self.login(*ADMIN)

    async def user(self, role: str = "rep", superior: str | None = None, unit: str | None = None,
                   name: str | None = None, **extra) -> dict:
        email = f"{role}.{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "name": name or email.split("@")[0], "role": role, "password": PASSWORD,
                **({"superior_id": superior} if superior else {}), **({"org_unit_id": unit} if unit else {}), **extra}
        resp = await self.client.post("/v1/users", headers=await self.admin(), json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def auth(self, user: dict) -> dict:
        return await self.login(user["email"])

    async def unit(self, name: str, kind: str, parent: str | None = None, **extra) -> dict:
        resp = await self.client.post("/v1/org-units", headers=await self.admin(), json={
            "name": name, "kind": kind, **({"parent_id": parent} if parent else {}), **extra})
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def outbox_count(self) -> int:
        return len(await outbox_rows(self.runtime))

    async def events_since(self, count: int) -> list[tuple[str, dict]]:
        return [(r["event_type"], json.loads(r["payload"])) for r in (await outbox_rows(self.runtime))[count:]]

    async def count(self, table) -> int:
        async with self.runtime.db.session() as session:
            return await session.scalar(select(func.count()).select_from(table))

    async def snapshot(self, *tables) -> tuple:
        """Outbox length and row counts: equal before and after a refused request = nothing written."""
        return (await self.outbox_count(), *[await self.count(t) for t in tables])


@pytest.fixture
async def api(team):
    return Api(team)


def assert_problem(resp, status: int, mentions: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    assert body["status"] == status
    assert mentions in body["detail"] + " " + str(body.get("field", "")), body
    return body


@pytest.fixture
def problem():
    return assert_problem
