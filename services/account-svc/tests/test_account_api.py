"""account-svc over HTTP (in-process app, real migrated database, replica fed by real events)."""
import uuid

import pytest

from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event

MANAGER, REP, OTHER_REP = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


@pytest.fixture(scope="module")
async def accounts():
    async with service_client("account-svc") as client:
        await feed(client.runtime, user_event(MANAGER, "manager", None), user_event(REP, "rep", MANAGER),
                   user_event(OTHER_REP, "rep", None))
        yield client


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.json()["detail"] + str(resp.json().get("field", "")), resp.json()


async def test_rep_creates_an_account_and_an_event_is_recorded(accounts):
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.post("/v1/accounts", headers=bearer(REP), json={
        "name": "  中国工商银行   股份有限公司 ", "credit_code": "91100000100003962t", "industry": "banking",
        "region": "North"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["owner_id"] == str(REP) and body["version"] == 1
    assert body["name"] == "中国工商银行 股份有限公司" and body["credit_code"] == "91100000100003962T"
    rows = (await outbox_rows(accounts.runtime))[before:]
    assert [r["event_type"] for r in rows] == ["kam.account.created.v1"]
    assert rows[0]["message_key"] == body["id"]


async def test_visibility_follows_the_hierarchy(accounts):
    acc = (await accounts.post("/v1/accounts", headers=bearer(REP), json={"name": "Visible Ltd"})).json()
    assert (await accounts.get(f"/v1/accounts/{acc['id']}", headers=bearer(REP))).status_code == 200
    assert (await accounts.get(f"/v1/accounts/{acc['id']}", headers=bearer(MANAGER, "manager"))).status_code == 200
    assert (await accounts.get(f"/v1/accounts/{acc['id']}", headers=bearer(uuid.uuid4(), "admin"))).status_code == 200
    assert_problem(await accounts.get(f"/v1/accounts/{acc['id']}", headers=bearer(OTHER_REP)), 404, "not found")
    listed = (await accounts.get("/v1/accounts", headers=bearer(OTHER_REP))).json()["items"]
    assert acc["id"] not in [a["id"] for a in listed]


async def test_manager_assigns_to_their_rep_but_a_rep_cannot_assign_to_others(accounts):
    ok = await accounts.post("/v1/accounts", headers=bearer(MANAGER, "manager"),
                             json={"name": "Assigned Co", "owner_id": str(REP)})
    assert ok.status_code == 201 and ok.json()["owner_id"] == str(REP)
    before = len(await outbox_rows(accounts.runtime))
    assert_problem(await accounts.post("/v1/accounts", headers=bearer(REP),
                                       json={"name": "Grab Co", "owner_id": str(OTHER_REP)}), 403, "owner_id")
    assert len(await outbox_rows(accounts.runtime)) == before


async def test_same_credit_code_conflicts_and_names_the_existing_account(accounts):
    first = (await accounts.post("/v1/accounts", headers=bearer(REP),
                                 json={"name": "Twin A", "credit_code": "91310000MA1FL1234X"})).json()
    before = len(await outbox_rows(accounts.runtime))
    resp = await accounts.post("/v1/accounts", headers=bearer(REP),
                               json={"name": "Twin B", "credit_code": "91310000ma1fl1234x"})
    assert_problem(resp, 409, "credit_code")
    assert resp.json()["existing_id"] == first["id"]
    assert len(await outbox_rows(accounts.runtime)) == before


@pytest.mark.parametrize("body, mentions", [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "X", "tier": "gold"}, "tier"),
    ({"name": "X", "owner_id": "not-a-uuid"}, "owner_id"),
    ({"name": 42}, "name"),
    ({}, "name"),
])
async def test_bad_account_input_is_422_and_writes_nothing(accounts, body, mentions):
    before = len(await outbox_rows(accounts.runtime))
    assert_problem(await accounts.post("/v1/accounts", headers=bearer(REP), json=body), 422, mentions)
    assert len(await outbox_rows(accounts.runtime)) == before


async def test_no_token_no_access(accounts):
    assert_problem(await accounts.post("/v1/accounts", json={"name": "X"}), 401, "bearer")
    assert_problem(await accounts.get(f"/v1/accounts/{uuid.uuid4()}", headers={"Authorization": "Bearer x"}),
                   401, "malformed")
