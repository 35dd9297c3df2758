"""team-svc over HTTP (in-process app, real migrated database): the core user and token contract.
The `team` fixture (conftest.py) is one app shared by all of team-svc's API tests."""
import uuid

import jwt
import pytest

from kam_shared.auth import SigningKey
from kam_shared.testing import outbox_rows


async def login(client, email, password):
    resp = await client.post("/v1/auth/token", data={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status
    assert mentions in (body["detail"] + " " + str(body.get("field", ""))), body


async def test_token_is_a_verifiable_jwt_with_the_users_role(team):
    resp = await team.post("/v1/auth/token", data={"username": "admin@example.com", "password": "kam-dev-passphrase"})
    body = resp.json()
    assert resp.status_code == 200 and body["token_type"] == "bearer" and body["expires_in"] > 0
    jwks = (await team.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(body["access_token"])
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(body["access_token"], jwt.algorithms.RSAAlgorithm.from_jwk(key), algorithms=["RS256"],
                        audience="kam")
    assert claims["role"] == "admin" and claims["email"] == "admin@example.com"


async def test_wrong_password_and_unknown_user_get_the_same_401(team):
    wrong = await team.post("/v1/auth/token", data={"username": "admin@example.com", "password": "nope"})
    unknown = await team.post("/v1/auth/token",
                              data={"username": "ghost@example.com", "password": "kam-dev-passphrase"})
    assert_problem(wrong, 401, "wrong email or password")
    assert unknown.json()["detail"] == wrong.json()["detail"]


async def test_admin_builds_a_hierarchy_and_each_user_is_published(team):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")
    before = len(await outbox_rows(team.runtime))
    mgr = await team.post("/v1/users", headers=admin, json={
        "email": "Mgr.One@Example.com", "name": "Manager One", "role": "manager", "password": "lamp-tiger-7"})
    assert mgr.status_code == 201, mgr.text
    assert mgr.json()["email"] == "mgr.one@example.com" and mgr.json()["version"] == 1
    rep = await team.post("/v1/users", headers=admin, json={
        "email": "rep.one@example.com", "name": "Rep One", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": mgr.json()["id"]})
    assert rep.status_code == 201
    got = await team.get(f"/v1/users/{rep.json()['id']}", headers=admin)
    assert got.json()["superior_id"] == mgr.json()["id"] and got.headers["etag"] == '"1"'
    assert "password" not in got.text and "hash" not in got.text
    rows = (await outbox_rows(team.runtime))[before:]
    assert [r["event_type"] for r in rows] == ["kam.team.user_created.v1"] * 2
    assert rows[1]["topic"] == "kam.team.events" and rows[1]["message_key"] == rep.json()["id"]


async def test_a_manager_adds_reps_only_below_themselves_and_a_rep_adds_nobody(team):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")
    mgr_a = (await team.post("/v1/users", headers=admin, json={
        "email": "mgr.a@example.com", "name": "A", "role": "manager", "password": "lamp-tiger-7"})).json()
    mgr_b = (await team.post("/v1/users", headers=admin, json={
        "email": "mgr.b@example.com", "name": "B", "role": "manager", "password": "lamp-tiger-7"})).json()
    as_a = await login(team, "mgr.a@example.com", "lamp-tiger-7")
    ok = await team.post("/v1/users", headers=as_a, json={
        "email": "rep.a1@example.com", "name": "A1", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": mgr_a["id"]})
    assert ok.status_code == 201
    before = len(await outbox_rows(team.runtime))
    assert_problem(await team.post("/v1/users", headers=as_a, json={
        "email": "rep.b9@example.com", "name": "B9", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": mgr_b["id"]}), 403, "superior_id")
    assert_problem(await team.post("/v1/users", headers=as_a, json={
        "email": "root2@example.com", "name": "R", "role": "admin", "password": "lamp-tiger-7",
        "superior_id": mgr_a["id"]}), 403, "admin")
    as_rep = await login(team, "rep.a1@example.com", "lamp-tiger-7")
    assert_problem(await team.post("/v1/users", headers=as_rep, json={
        "email": "x@example.com", "name": "X", "role": "rep", "password": "lamp-tiger-7"}), 403, "managers and admins")
    assert len(await outbox_rows(team.runtime)) == before


@pytest.mark.parametrize("body, status, mentions", [
    ({"email": "dup@example.com", "name": "D", "role": "boss", "password": "lamp-tiger-7"}, 422, "role"),
    ({"email": "dup@example.com", "name": "D", "role": "rep", "password": "lamp-tiger-7", "salary": 1}, 422, "salary"),
    ({"email": "not-an-email", "name": "D", "role": "rep", "password": "lamp-tiger-7"}, 422, "email"),
    ({"email": "dup@example.com", "name": "D", "role": "rep", "password": "s"}, 422, "password"),
    ({"email": "dup@example.com", "name": "D", "role": "rep", "password": "lamp-tiger-7",
      "superior_id": str(uuid.uuid4())}, 422, "superior_id"),
    ({"email": "dup@example.com", "name": "D", "role": "rep", "password": "lamp-tiger-7", "superior_id": "abc"},
     422, "superior_id"),
])
async def test_bad_user_input_is_a_problem_naming_the_field_and_writes_nothing(team, body, status, mentions):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")
    before = len(await outbox_rows(team.runtime))
    assert_problem(await team.post("/v1/users", headers=admin, json=body), status, mentions)
    assert len(await outbox_rows(team.runtime)) == before
    assert (await team.post("/v1/auth/token", data={"username": "dup@example.com", "password": "lamp-tiger-7"})
            ).status_code == 401


async def test_duplicate_email_conflicts(team):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")
    body = {"email": "twice@example.com", "name": "T", "role": "rep", "password": "lamp-tiger-7"}
    assert (await team.post("/v1/users", headers=admin, json=body)).status_code == 201
    before = len(await outbox_rows(team.runtime))
    assert_problem(await team.post("/v1/users", headers=admin, json={**body, "email": "TWICE@example.com"}),
                   409, "email")
    assert len(await outbox_rows(team.runtime)) == before


async def test_malformed_json_and_missing_or_forged_tokens(team):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")
    resp = await team.post("/v1/users", headers={**admin, "content-type": "application/json"}, content=b"{bad")
    assert_problem(resp, 400, "JSON")
    resp = await team.get(f"/v1/users/{uuid.uuid4()}")
    assert_problem(resp, 401, "bearer")
    assert resp.headers["www-authenticate"].startswith("Bearer")
    forged = SigningKey.generate().issue(user_id=uuid.uuid4(), email="x@y.z", role="admin", issuer="kam-team-svc",
                                         audience="kam", lifetime_s=60)
    assert_problem(await team.get(f"/v1/users/{uuid.uuid4()}", headers={"Authorization": f"Bearer {forged}"}),
                   401, "key")
    assert_problem(await team.get(f"/v1/users/{uuid.uuid4()}", headers={"Authorization": "Bearer abc.def"}),
                   401, "malformed")


async def test_users_list_pages_through_everyone(team):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await team.get("/v1/users", headers=admin, params=params)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 3 and seen == sorted(seen)


async def test_admin_moves_a_rep_to_another_manager_and_the_move_is_published(team):
    admin = await login(team, "admin@example.com", "kam-dev-passphrase")

    async def user(email, role, superior=None):
        resp = await team.post("/v1/users", headers=admin, json={
            "email": email, "name": email, "role": role, "password": "lamp-tiger-7",
            **({"superior_id": superior} if superior else {})})
        return resp.json()

    m1, m2 = await user("move.m1@example.com", "manager"), await user("move.m2@example.com", "manager")
    rep = await user("move.rep@example.com", "rep", m1["id"])
    before = len(await outbox_rows(team.runtime))
    moved = await team.patch(f"/v1/users/{rep['id']}", headers={**admin, "If-Match": '"1"'},
                             json={"superior_id": m2["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["superior_id"] == m2["id"] and moved.json()["version"] == 2
    rows = (await outbox_rows(team.runtime))[before:]
    assert [r["event_type"] for r in rows] == ["kam.team.user_updated.v1"]
    import json
    data = json.loads(rows[0]["payload"])["data"]
    assert data["changes"]["superior_id"] == {"from": m1["id"], "to": m2["id"]}
    assert data["user"]["superior_id"] == m2["id"] and json.loads(rows[0]["payload"])["sequence"] == 2

    # Stale version, cycles, unknown superior, non-admins: problems, nothing written.
    before = len(await outbox_rows(team.runtime))
    assert_problem(await team.patch(f"/v1/users/{rep['id']}", headers={**admin, "If-Match": '"1"'},
                                    json={"superior_id": m1["id"]}), 412, "version 2")
    await team.patch(f"/v1/users/{m2['id']}", headers=admin, json={"superior_id": m1["id"]})
    after_m2_move = len(await outbox_rows(team.runtime))
    assert_problem(await team.patch(f"/v1/users/{m1['id']}", headers=admin, json={"superior_id": rep["id"]}),
                   409, "cycle")
    assert_problem(await team.patch(f"/v1/users/{m1['id']}", headers=admin, json={"superior_id": m1["id"]}),
                   409, "cycle")
    assert_problem(await team.patch(f"/v1/users/{rep['id']}", headers=admin,
                                    json={"superior_id": str(uuid.uuid4())}), 422, "superior_id")
    assert_problem(await team.patch(f"/v1/users/{rep['id']}", headers=admin, json={"role": "king"}), 422, "role")
    as_m1 = await login(team, "move.m1@example.com", "lamp-tiger-7")
    assert_problem(await team.patch(f"/v1/users/{rep['id']}", headers=as_m1, json={"name": "X"}), 403, "admin")
    assert len(await outbox_rows(team.runtime)) == after_m2_move == before + 1
    # Nothing to change: no new version, no event.
    same = await team.patch(f"/v1/users/{rep['id']}", headers=admin, json={"superior_id": m2["id"]})
    assert same.json()["version"] == 2 and len(await outbox_rows(team.runtime)) == after_m2_move
    # A deactivated user can no longer sign in.
    await team.patch(f"/v1/users/{rep['id']}", headers=admin, json={"active": False})
    assert (await team.post("/v1/auth/token", data={"username": "move.rep@example.com", "password": "lamp-tiger-7"})
            ).status_code == 401


async def test_a_demoted_manager_and_a_deactivated_user_lose_their_powers_at_once(api):
    """Authority comes from team-svc's own users table, not from the token (issue 13, item 1)."""
    admin = await api.admin()
    manager = await api.user("manager")
    token = await api.auth(manager)  # issued while they are a manager
    made = await api.client.post("/v1/users", headers=token, json={
        "email": f"r.{uuid.uuid4().hex[:8]}@example.com", "name": "R", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": manager["id"]})
    assert made.status_code == 201, made.text

    demoted = await api.client.patch(f"/v1/users/{manager['id']}", headers=admin, json={"role": "rep"})
    assert demoted.status_code == 200, demoted.text
    refused = await api.client.post("/v1/users", headers=token, json={
        "email": f"r.{uuid.uuid4().hex[:8]}@example.com", "name": "R2", "role": "rep", "password": "lamp-tiger-7",
        "superior_id": manager["id"]})
    assert refused.status_code == 403, refused.text

    await api.client.patch(f"/v1/users/{made.json()['id']}", headers=admin, json={"superior_id": None})
    off = await api.client.patch(f"/v1/users/{manager['id']}", headers=admin, json={"active": False})
    assert off.status_code == 200, off.text
    gone = await api.client.get(f"/v1/users/{manager['id']}", headers=token)
    assert gone.status_code == 401 and gone.headers["www-authenticate"].startswith("Bearer"), gone.text
