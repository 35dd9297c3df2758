"""opportunity-svc over HTTP (in-process app, real migrated database, real account-svc app for the
fallback lookup, replicas fed through the service's own consumer path)."""
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from kam_shared.events import AccountCreated, AccountState, DomainEvent
from kam_shared.testing import bearer, feed, outbox_rows, service_client, user_event
from opportunity_svc.models import opportunities

MANAGER, REP, OTHER_REP = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ACCOUNT = uuid.uuid4()


def account_event(account_id, owner):
    return DomainEvent("kam.account.created.v1", account_id, 1, AccountCreated(account=AccountState(
        id=account_id, name="Bank of Tests", owner_id=owner, version=1))).to_cloudevent("/kam/account-svc")


@pytest.fixture(scope="module")
async def accounts_app():
    async with service_client("account-svc") as client:
        await feed(client.runtime, user_event(MANAGER, "manager", None), user_event(REP, "rep", MANAGER))
        yield client


@pytest.fixture(scope="module")
async def opps(accounts_app):
    async with service_client("opportunity-svc") as client:
        await feed(client.runtime, user_event(MANAGER, "manager", None), user_event(REP, "rep", MANAGER),
                   user_event(OTHER_REP, "rep", None), account_event(ACCOUNT, REP))
        account_app = accounts_app._transport.app
        client.runtime.extras["account_svc_client"] = lambda: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=account_app), base_url="http://account-svc")
        yield client


def body(**over):
    return {"account_id": str(ACCOUNT), "name": "Core banking renewal", "amount": "100000.00", "currency": "CNY",
            "close_date": "2026-12-15", "owner_id": str(REP), **over}


def assert_problem(resp, status, mentions):
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert mentions in resp.json()["detail"] + str(resp.json().get("field", "")), resp.json()


async def count_opps(client):
    async with client.runtime.db.session() as session:
        return await session.scalar(select(func.count()).select_from(opportunities))


async def test_create_matches_the_core_contract(opps):
    resp = await opps.post("/v1/opportunities", headers=bearer(REP), json=body(amount=125000))
    assert resp.status_code == 201, resp.text
    o = resp.json()
    assert (o["stage"], o["probability"], o["status"], o["version"]) == (1, 10, "open", 1)
    assert o["amount"] == "125000.00" and o["currency"] == "CNY" and resp.headers["etag"] == '"1"'
    assert o["created_at"].endswith("Z") or o["created_at"].endswith("+00:00")


async def test_stage_moves_close_and_their_events(opps):
    o = (await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()
    before = len(await outbox_rows(opps.runtime))
    moved = await opps.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(REP), json={"stage": 5})
    assert moved.status_code == 200 and moved.json()["probability"] == 50 and moved.json()["version"] == 2
    won = await opps.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(REP),
                          json={"outcome": "won", "reason": "best total cost"})
    assert (won.json()["stage"], won.json()["probability"], won.json()["status"]) == (8, 100, "won")
    rows = (await outbox_rows(opps.runtime))[before:]
    assert [r["event_type"] for r in rows] == ["kam.opportunity.stage_changed.v1", "kam.opportunity.closed.v1"]
    assert all(r["message_key"] == o["id"] for r in rows)
    history = (await opps.get(f"/v1/opportunities/{o['id']}/stage-history", headers=bearer(REP))).json()
    assert [(h["from_stage"], h["to_stage"], h["status"]) for h in history] == [
        (None, 1, "open"), (1, 5, "open"), (5, 8, "won")]
    assert all(h["changed_by"] == str(REP) for h in history)


async def test_closed_opportunity_cannot_move_and_nothing_is_written(opps):
    o = (await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()
    lost = await opps.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(REP),
                           json={"outcome": "lost", "reason": "price", "competitor": "Rival Corp"})
    assert lost.json()["probability"] == 0 and lost.json()["lost_to_competitor"] == "Rival Corp"
    before = len(await outbox_rows(opps.runtime))
    assert_problem(await opps.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(REP), json={"stage": 3}),
                   409, "closed")
    assert len(await outbox_rows(opps.runtime)) == before
    assert (await opps.get(f"/v1/opportunities/{o['id']}", headers=bearer(REP))).json()["version"] == 2


async def test_stale_if_match_is_412(opps):
    o = (await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()
    await opps.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(REP), json={"stage": 2})
    resp = await opps.post(f"/v1/opportunities/{o['id']}/stage", headers={**bearer(REP), "If-Match": '"1"'},
                           json={"stage": 3})
    assert_problem(resp, 412, "version 2")
    ok = await opps.post(f"/v1/opportunities/{o['id']}/stage", headers={**bearer(REP), "If-Match": '"2"'},
                         json={"stage": 3})
    assert ok.status_code == 200 and ok.json()["stage"] == 3


async def test_visibility_rep_manager_admin_and_outsider(opps):
    o = (await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()
    url = f"/v1/opportunities/{o['id']}"
    assert (await opps.get(url, headers=bearer(MANAGER, "manager"))).status_code == 200
    assert (await opps.get(url, headers=bearer(uuid.uuid4(), "admin"))).status_code == 200
    assert_problem(await opps.get(url, headers=bearer(OTHER_REP)), 404, "not found")
    before = len(await outbox_rows(opps.runtime))
    assert_problem(await opps.post(f"{url}/stage", headers=bearer(OTHER_REP), json={"stage": 4}), 404, "not found")
    assert len(await outbox_rows(opps.runtime)) == before
    # A rep cannot create an opportunity on someone else's behalf.
    assert_problem(await opps.post("/v1/opportunities", headers=bearer(OTHER_REP), json=body()), 403, "owner_id")


async def test_account_unknown_to_the_replica_is_looked_up_in_account_svc(opps, accounts_app):
    created = await accounts_app.post("/v1/accounts", headers=bearer(REP), json={"name": "Fresh Account"})
    fresh_id = created.json()["id"]
    resp = await opps.post("/v1/opportunities", headers=bearer(REP), json=body(account_id=fresh_id))
    assert resp.status_code == 201, resp.text
    assert resp.json()["account_id"] == fresh_id


@pytest.mark.parametrize("override, status, mentions", [
    ({"amount": "-5.00"}, 422, "amount"),
    ({"amount": "1.001"}, 422, "amount"),
    ({"amount": "lots"}, 422, "amount"),
    ({"currency": "XYZ"}, 422, "currency"),
    ({"currency": "EURO"}, 422, "currency"),
    ({"close_date": "next week"}, 422, "close_date"),
    ({"account_id": str(uuid.uuid4())}, 422, "account_id"),
    ({"stage": 3}, 422, "stage"),
    ({"name": ""}, 422, "name"),
])
async def test_bad_create_input_is_a_problem_and_writes_nothing(opps, override, status, mentions):
    before_rows, before_opps = len(await outbox_rows(opps.runtime)), await count_opps(opps)
    assert_problem(await opps.post("/v1/opportunities", headers=bearer(REP), json=body(**override)), status, mentions)
    assert len(await outbox_rows(opps.runtime)) == before_rows
    assert await count_opps(opps) == before_opps


@pytest.mark.parametrize("payload, mentions", [
    ({"stage": 0}, "stage"), ({"stage": 8}, "stage"), ({"stage": "five"}, "stage"), ({}, "stage"),
    ({"stage": 3, "force": True}, "force"),
])
async def test_bad_stage_input_is_422(opps, payload, mentions):
    o = (await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()
    before = len(await outbox_rows(opps.runtime))
    assert_problem(await opps.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(REP), json=payload),
                   422, mentions)
    assert len(await outbox_rows(opps.runtime)) == before


@pytest.mark.parametrize("payload, mentions", [
    ({"outcome": "draw", "reason": "x"}, "outcome"), ({"outcome": "lost"}, "reason"),
    ({"outcome": "lost", "reason": "  "}, "reason"), ({"outcome": "won", "reason": "x", "competitor": "Y"}, "competitor"),
])
async def test_bad_close_input_is_422(opps, payload, mentions):
    o = (await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()
    before = len(await outbox_rows(opps.runtime))
    assert_problem(await opps.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(REP), json=payload),
                   422, mentions)
    assert len(await outbox_rows(opps.runtime)) == before
    assert (await opps.get(f"/v1/opportunities/{o['id']}", headers=bearer(REP))).json()["status"] == "open"


async def test_account_svc_down_is_503_not_500(opps):
    saved = opps.runtime.extras.pop("account_svc_client")
    opps.runtime.settings.kam_account_svc_url = "http://127.0.0.1:1"
    try:
        assert_problem(await opps.post("/v1/opportunities", headers=bearer(REP),
                                       json=body(account_id=str(uuid.uuid4()))), 503, "account-svc")
    finally:
        opps.runtime.extras["account_svc_client"] = saved


async def test_stage_model_lists_eight_stages(opps):
    stages = (await opps.get("/v1/stage-model", headers=bearer(REP))).json()
    assert [s["probability"] for s in stages] == [10, 20, 30, 40, 50, 70, 90, 100]


async def test_list_is_scoped_to_what_you_may_see_and_pages(opps):
    mine = {(await opps.post("/v1/opportunities", headers=bearer(REP), json=body())).json()["id"] for _ in range(3)}
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "owner_id": str(REP), **({"cursor": cursor} if cursor else {})}
        page = (await opps.get("/v1/opportunities", headers=bearer(MANAGER, "manager"), params=params)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert mine <= set(seen) and len(seen) == len(set(seen))
    outsider = (await opps.get("/v1/opportunities", headers=bearer(OTHER_REP))).json()["items"]
    assert not mine & {o["id"] for o in outsider}
