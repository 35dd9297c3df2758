"""opportunity-svc over HTTP: the core contract, funnel moves, closing, reopening, edits with product
lines and If-Match, the stage history (in-process app, real migrated database, replicas fed through
the service's own consumer path)."""
import json
import uuid

import httpx
import pytest

from kam_shared.testing import bearer
from opportunity_svc.opportunities.models import stage_history


async def test_create_matches_the_core_contract(world):
    rep = await world.user()
    account = await world.account(rep)
    resp = await world.client.post("/v1/opportunities", headers=bearer(rep),
                                   json=world.body(account, rep, amount=125000))
    assert resp.status_code == 201, resp.text
    o = resp.json()
    assert (o["stage"], o["probability"], o["status"], o["version"]) == (1, 10, "open", 1)
    assert o["amount"] == "125000.00" and o["currency"] == "CNY" and resp.headers["etag"] == '"1"'
    assert o["created_at"].endswith("Z") or o["created_at"].endswith("+00:00")
    assert (o["confirmed"], o["forecast_category"], o["lines"], o["team"], o["high_value"]) == (
        False, None, [], [], None)
    assert resp.headers["location"] == f"/v1/opportunities/{o['id']}"
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.created.v1" and event["data"]["opportunity"]["amount"] == "125000.00"


async def test_stage_moves_close_and_their_events(world):
    rep = await world.user()
    o = await world.opportunity(rep)
    client = world.client
    before = len(await world.outbox())
    moved = await client.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(rep), json={"stage": 5})
    assert moved.status_code == 200 and moved.json()["probability"] == 50 and moved.json()["version"] == 2
    assert moved.json()["stage_name"] == "Shortlisted / bidding"
    won = await client.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(rep),
                            json={"outcome": "won", "reason": "best_value", "note": "best total cost"})
    assert (won.json()["stage"], won.json()["probability"], won.json()["status"]) == (8, 100, "won")
    rows = (await world.outbox())[before:]
    assert [r["event_type"] for r in rows] == ["kam.opportunity.stage_changed.v1", "kam.opportunity.closed.v1"]
    assert all(r["message_key"] == o["id"] for r in rows)
    moved_event = json.loads(rows[0]["payload"])["data"]
    assert (moved_event["from_stage"], moved_event["to_stage"], moved_event["skipped"]) == (1, 5, True)
    history = (await client.get(f"/v1/opportunities/{o['id']}/stage-history", headers=bearer(rep))).json()
    assert [(h["from_stage"], h["to_stage"], h["status"], h["kind"]) for h in history] == [
        (None, 1, "open", "created"), (1, 5, "open", "skipped_forward"), (5, 8, "won", "won")]
    assert all(h["changed_by"] == str(rep) for h in history)
    assert history[0]["left_at"] == history[1]["changed_at"] and history[0]["days_in_stage"] >= 0
    assert history[-1]["days_in_stage"] is None and history[-1]["reason"] == "best_value"


async def test_closed_opportunity_cannot_move_until_reopened(world, problem):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}"
    await world.client.post(f"{url}/stage", headers=bearer(rep), json={"stage": 4})
    lost = await world.client.post(f"{url}/close", headers=bearer(rep),
                                   json={"outcome": "lost", "reason": "price", "competitor": "Rival Corp"})
    assert lost.json()["probability"] == 0 and lost.json()["lost_to_competitor"] == "Rival Corp"
    marker = await world.unchanged(stage_history)
    problem(await world.client.post(f"{url}/stage", headers=bearer(rep), json={"stage": 3}), 409, "reopen")
    problem(await world.client.patch(url, headers=bearer(rep), json={"amount": "5.00"}), 409, "closed")
    problem(await world.client.post(f"{url}/reopen", headers=bearer(rep), json={"reason": "x", "stage": 8}),
            422, "stage")
    problem(await world.client.post(f"{url}/reopen", headers=bearer(rep), json={"stage": 2}), 422, "reason")
    await world.assert_unchanged(marker, stage_history)
    assert (await world.client.get(url, headers=bearer(rep))).json()["version"] == 3

    reopened = await world.client.post(f"{url}/reopen", headers=bearer(rep), json={"reason": "budget came back"})
    assert reopened.status_code == 200, reopened.text
    r = reopened.json()  # back to the stage it was closed from, with that stage's probability
    assert (r["status"], r["stage"], r["probability"], r["close_reason"], r["version"]) == ("open", 4, 40, None, 4)
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.reopened.v1" and event["data"]["from_status"] == "lost"
    history = (await world.client.get(f"{url}/stage-history", headers=bearer(rep))).json()
    assert [(h["kind"], h["from_stage"], h["to_stage"], h["reason"]) for h in history[-2:]] == [
        ("lost", 4, 8, "price"), ("reopened", 8, 4, "budget came back")]
    problem(await world.client.post(f"{url}/reopen", headers=bearer(rep), json={"reason": "again"}), 409, "open")
    assert (await world.client.post(f"{url}/stage", headers=bearer(rep), json={"stage": 6})).status_code == 200


async def test_stale_if_match_is_412(world, problem):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}"
    await world.client.post(f"{url}/stage", headers=bearer(rep), json={"stage": 2})
    marker = await world.unchanged()
    problem(await world.client.post(f"{url}/stage", headers={**bearer(rep), "If-Match": '"1"'}, json={"stage": 3}),
            412, "version 2")
    problem(await world.client.patch(url, headers={**bearer(rep), "If-Match": '"1"'}, json={"name": "New"}),
            412, "version 2")
    await world.assert_unchanged(marker)
    ok = await world.client.post(f"{url}/stage", headers={**bearer(rep), "If-Match": '"2"'}, json={"stage": 3})
    assert ok.status_code == 200 and ok.json()["stage"] == 3 and ok.headers["etag"] == '"3"'


async def test_visibility_rep_manager_admin_and_outsider(world, problem):
    manager = await world.user("manager")
    rep = await world.user("rep", manager)
    outsider = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}"
    assert (await world.client.get(url, headers=bearer(manager, "manager"))).status_code == 200
    assert (await world.client.get(url, headers=bearer(uuid.uuid4(), "admin"))).status_code == 200
    problem(await world.client.get(url, headers=bearer(outsider)), 404, "not found")
    marker = await world.unchanged()
    problem(await world.client.post(f"{url}/stage", headers=bearer(outsider), json={"stage": 4}), 404, "not found")
    problem(await world.client.patch(url, headers=bearer(outsider), json={"name": "mine now"}), 404, "not found")
    await world.assert_unchanged(marker)
    # A rep cannot create an opportunity on someone else's behalf.
    problem(await world.client.post("/v1/opportunities", headers=bearer(outsider),
                                    json=world.body(uuid.uuid4(), rep)), 403, "owner_id")


async def test_account_unknown_to_the_replica_is_looked_up_in_account_svc(world):
    """The fallback speaks to account-svc's real app (in-process, its own migrated database)."""
    from kam_shared.testing import feed, service_client, user_event

    rep = await world.user()
    async with service_client("account-svc") as accounts:
        await feed(accounts.runtime, user_event(rep, "rep", None))
        created = await accounts.post("/v1/accounts", headers=bearer(rep), json={"name": "Fresh Account Ltd"})
        assert created.status_code == 201, created.text
        account_id = created.json()["id"]
        app = accounts._transport.app
        world.runtime.peers["account-svc"] = lambda: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://account-svc")
        try:
            resp = await world.client.post("/v1/opportunities", headers=bearer(rep),
                                           json=world.body(uuid.UUID(account_id), rep))
            assert resp.status_code == 201, resp.text
            assert resp.json()["account_id"] == account_id
            unknown = await world.client.post("/v1/opportunities", headers=bearer(rep),
                                              json=world.body(uuid.uuid4(), rep))
            assert unknown.status_code == 422 and "does not exist" in unknown.json()["detail"]
        finally:
            world.runtime.peers.pop("account-svc")


async def test_account_svc_is_asked_with_no_database_connection_held(world):
    """No HTTP call inside an open transaction: while account-svc is asked, the create holds no
    connection; the answer is remembered in the replica by the create's own unit of work."""
    from sqlalchemy import event

    rep = await world.user()
    account_id = uuid.uuid4()
    held, seen = [0], []
    engine = world.runtime.db.engine.sync_engine

    def on_checkout(*args) -> None:
        held[0] += 1

    def on_checkin(*args) -> None:
        held[0] -= 1

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(held[0])
        return httpx.Response(200, json={"id": str(account_id), "name": "Remote Ltd", "owner_id": str(rep),
                                         "version": 3})

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
    world.runtime.peers["account-svc"] = lambda: httpx.AsyncClient(transport=httpx.MockTransport(answer),
                                                                   base_url="http://account-svc")
    try:
        resp = await world.client.post("/v1/opportunities", headers=bearer(rep), json=world.body(account_id, rep))
    finally:
        world.runtime.peers.pop("account-svc")
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "checkin", on_checkin)
    assert resp.status_code == 201, resp.text
    assert seen == [0]
    again = await world.client.post("/v1/opportunities", headers=bearer(rep), json=world.body(account_id, rep))
    assert again.status_code == 201, again.text  # from the replica now: no peer is configured any more


@pytest.mark.parametrize("override, status, mentions", [
    ({"amount": "-5.00"}, 422, "amount"),
    ({"amount": "1.001"}, 422, "amount"),
    ({"amount": "lots"}, 422, "amount"),
    ({"currency": "XYZ"}, 422, "currency"),
    ({"currency": "EURO"}, 422, "currency"),
    ({"close_date": "next week"}, 422, "close_date"),
    ({"stage": 3}, 422, "stage"),
    ({"name": ""}, 422, "name"),
])
async def test_bad_create_input_is_a_problem_and_writes_nothing(world, problem, override, status, mentions):
    rep = await world.user()
    account = await world.account(rep)
    marker = await world.unchanged(stage_history)
    problem(await world.client.post("/v1/opportunities", headers=bearer(rep),
                                    json=world.body(account, rep, **override)), status, mentions)
    await world.assert_unchanged(marker, stage_history)


async def test_account_svc_down_is_503_not_500(world, problem):
    rep = await world.user()
    saved = world.runtime.settings.kam_account_svc_url
    world.runtime.settings.kam_account_svc_url = "http://127.0.0.1:1"
    try:
        problem(await world.client.post("/v1/opportunities", headers=bearer(rep),
                                        json=world.body(uuid.uuid4(), rep)), 503, "account-svc")
    finally:
        world.runtime.settings.kam_account_svc_url = saved


@pytest.mark.parametrize("payload, mentions", [
    ({"stage": 0}, "stage"), ({"stage": 8}, "stage"), ({"stage": 9}, "stage"), ({"stage": "five"}, "stage"),
    ({}, "stage"), ({"stage": 3, "force": True}, "force"),
])
async def test_stage_outside_the_model_is_422(world, problem, payload, mentions):
    rep = await world.user()
    o = await world.opportunity(rep)
    marker = await world.unchanged(stage_history)
    problem(await world.client.post(f"/v1/opportunities/{o['id']}/stage", headers=bearer(rep), json=payload),
            422, mentions)
    await world.assert_unchanged(marker, stage_history)


@pytest.mark.parametrize("payload, mentions", [
    ({"outcome": "draw", "reason": "x"}, "outcome"), ({"outcome": "lost"}, "reason"),
    ({"outcome": "lost", "reason": "  "}, "reason"),
    ({"outcome": "won", "reason": "best_value", "competitor": "Y"}, "competitor"),
    ({"outcome": "lost", "reason": "best total cost"}, "reason"),  # not a code of the list
    ({"outcome": "won", "reason": "price"}, "reason"),  # a lost reason, not a won one
    ({"outcome": "lost", "reason": "price"}, "competitor"),  # lost to whom?
    ({"outcome": "lost", "reason": "price", "competitor": "  "}, "competitor"),
    ({"outcome": "lost", "reason": "no_decision", "note": "x" * 2001}, "note"),
])
async def test_bad_close_input_is_422(world, problem, payload, mentions):
    rep = await world.user()
    o = await world.opportunity(rep)
    marker = await world.unchanged(stage_history)
    problem(await world.client.post(f"/v1/opportunities/{o['id']}/close", headers=bearer(rep), json=payload),
            422, mentions)
    await world.assert_unchanged(marker, stage_history)
    assert (await world.client.get(f"/v1/opportunities/{o['id']}", headers=bearer(rep))).json()["status"] == "open"


# ---------------------------------------------------------------- PATCH and product lines
async def test_patch_changes_fields_and_publishes_from_and_to(world):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}"
    resp = await world.client.patch(url, headers={**bearer(rep), "If-Match": '"1"'}, json={
        "name": "Core banking, phase 2", "close_date": "2027-03-31", "forecast_category": "best_case"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["name"], body["close_date"], body["forecast_category"], body["version"]) == (
        "Core banking, phase 2", "2027-03-31", "best_case", 2)
    assert resp.headers["etag"] == '"2"'
    event = json.loads((await world.outbox())[-1]["payload"])
    assert event["type"] == "kam.opportunity.updated.v1" and event["sequence"] == 2
    assert event["data"]["changes"] == {
        "name": {"from": "Core banking renewal", "to": "Core banking, phase 2"},
        "close_date": {"from": "2026-12-15", "to": "2027-03-31"},
        "forecast_category": {"from": None, "to": "best_case"}}
    assert event["data"]["opportunity"]["forecast_category"] == "best_case"
    # Sending what is already there changes nothing and publishes nothing.
    marker = await world.unchanged()
    same = await world.client.patch(url, headers=bearer(rep), json={"name": "Core banking, phase 2"})
    assert same.json()["version"] == 2
    await world.assert_unchanged(marker)


async def test_amount_derived_from_product_lines(world):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}"
    licence = await world.product("software", "Core banking licence")
    support = await world.product("services", "Onsite support")
    resp = await world.client.patch(url, headers=bearer(rep), json={"amount_from_lines": True, "lines": [
        {"product_code": licence, "quantity": 2, "expected_price": "40000", "quoted_price": "45000.50"},
        {"product_code": support, "description": "3 years", "quantity": 3, "expected_price": "5000.00",
         "currency": "CNY"}]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["amount"] == "105001.00" and body["amount_from_lines"] is True
    assert [(line["product_code"], line["product"], line["family"], line["quantity"], line["amount"])
            for line in body["lines"]] == [(licence, "Core banking licence", "software", 2, "90001.00"),
                                           (support, "Onsite support", "services", 3, "15000.00")]
    event = json.loads((await world.outbox())[-1]["payload"])
    assert set(event["data"]["changes"]) == {"amount", "amount_from_lines", "lines"}
    assert event["data"]["opportunity"]["lines"][0]["quoted_price"] == "45000.50"
    assert [(line["product_code"], line["family"]) for line in event["data"]["opportunity"]["lines"]] == [
        (licence, "software"), (support, "services")]
    got = (await world.client.get(url, headers=bearer(rep))).json()
    assert got["lines"] == body["lines"] and got["amount"] == "105001.00"


@pytest.mark.parametrize("payload, status, mentions", [
    ({"lines": [{"product_code": "SRV", "quantity": -2}]}, 422, "quantity"),
    ({"lines": [{"product_code": "SRV", "quantity": 0}]}, 422, "quantity"),
    ({"lines": [{"product_code": "SRV", "quantity": 1, "quoted_price": "9", "currency": "USD"}]}, 422, "currency"),
    ({"lines": [{"product_code": "SRV", "quantity": 1, "expected_price": "-9"}]}, 422, "expected_price"),
    ({"lines": [{"product_code": "SRV", "quantity": 1}, {"product_code": "NO-SUCH", "quantity": 1}]}, 422,
     "lines.1.product_code"),
    ({"lines": [{"product": "Server", "quantity": 1}]}, 422, "product"),
    ({"amount": "-1.00"}, 422, "amount"),
    ({"currency": "ABC"}, 422, "currency"),
    ({"name": ""}, 422, "name"),
    ({"stage": 3}, 422, "stage"),
    ({"owner_id": str(uuid.uuid4())}, 422, "owner_id"),
    ({"forecast_category": "maybe"}, 422, "forecast_category"),
])
async def test_bad_patch_is_a_problem_and_writes_nothing(world, problem, payload, status, mentions):
    rep = await world.user()
    o = await world.opportunity(rep)
    await world.known_product("SRV")
    marker = await world.unchanged()
    problem(await world.client.patch(f"/v1/opportunities/{o['id']}", headers=bearer(rep), json=payload),
            status, mentions)
    await world.assert_unchanged(marker)
    assert (await world.client.get(f"/v1/opportunities/{o['id']}", headers=bearer(rep))).json()["version"] == 1


async def test_currency_change_must_bring_lines_in_the_new_currency(world, problem):
    rep = await world.user()
    o = await world.opportunity(rep)
    url = f"/v1/opportunities/{o['id']}"
    server = await world.product()
    await world.client.patch(url, headers=bearer(rep), json={"lines": [
        {"product_code": server, "quantity": 1, "quoted_price": "1000"}]})
    marker = await world.unchanged()
    problem(await world.client.patch(url, headers=bearer(rep), json={"currency": "USD"}), 422, "mismatch")
    problem(await world.client.patch(url, headers=bearer(rep), json={"currency": "USD", "lines": [
        {"product_code": server, "quantity": 1, "quoted_price": "140", "currency": "CNY"}]}), 422, "currency")
    await world.assert_unchanged(marker)
    ok = await world.client.patch(url, headers=bearer(rep), json={"currency": "usd", "lines": [
        {"product_code": server, "quantity": 1, "quoted_price": "140", "currency": "USD"}]})
    assert ok.status_code == 200 and ok.json()["currency"] == "USD"


async def test_forecast_category_override_belongs_to_the_primary_owner(world, problem):
    manager = await world.user("manager")
    rep = await world.user("rep", manager)
    o = await world.opportunity(rep)
    marker = await world.unchanged()
    problem(await world.client.patch(f"/v1/opportunities/{o['id']}", headers=bearer(manager, "manager"),
                                     json={"forecast_category": "commit"}), 403, "primary owner")
    await world.assert_unchanged(marker)
    ok = await world.client.patch(f"/v1/opportunities/{o['id']}", headers=bearer(rep),
                                  json={"forecast_category": "commit"})
    assert ok.json()["forecast_category"] == "commit"


# ---------------------------------------------------------------- stage model
async def test_stage_model_lists_eight_stages_with_its_version(world):
    resp = await world.client.get("/v1/stage-model", headers=bearer(uuid.uuid4()))
    stages = resp.json()
    assert [s["probability"] for s in stages] == [10, 20, 30, 40, 50, 70, 90, 100]
    assert [s["number"] for s in stages] == list(range(1, 9)) and resp.headers["etag"] == '"1"'


async def test_stage_model_is_configurable_by_an_admin_and_reweights_open_opportunities(isolated, problem):
    async with isolated() as world:  # a database of its own: the stage model is global
        rep, admin = await world.user(), bearer(uuid.uuid4(), "admin")
        in_three = await world.opportunity(rep)
        await world.client.post(f"/v1/opportunities/{in_three['id']}/stage", headers=bearer(rep), json={"stage": 3})
        in_two = await world.opportunity(rep)
        await world.client.post(f"/v1/opportunities/{in_two['id']}/stage", headers=bearer(rep), json={"stage": 2})
        stages = (await world.client.get("/v1/stage-model", headers=admin)).json()
        stages[2].update(probability=35, name="Map the buying centre")

        marker = await world.unchanged()
        problem(await world.client.put("/v1/stage-model", headers=bearer(rep), json=stages), 403, "admin")
        bad = [dict(s) for s in stages]
        bad[3]["probability"] = 20
        problem(await world.client.put("/v1/stage-model", headers=admin, json=bad), 422, "must not fall")
        problem(await world.client.put("/v1/stage-model", headers=admin, json=stages[:7]), 422, "missing [8]")
        problem(await world.client.put("/v1/stage-model", headers={**admin, "If-Match": '"7"'}, json=stages),
                412, "version 1")
        await world.assert_unchanged(marker)

        resp = await world.client.put("/v1/stage-model", headers={**admin, "If-Match": '"1"'}, json=stages)
        assert resp.status_code == 200, resp.text
        assert resp.headers["etag"] == '"2"' and resp.json()[2]["probability"] == 35
        event = json.loads((await world.outbox())[-1]["payload"])
        assert event["type"] == "kam.opportunity.stage_model_changed.v1" and event["sequence"] == 2
        assert event["subject"] == "stage-model" and len(event["data"]["stages"]) == 8
        assert event["data"]["changes"] == {"stage_3.probability": {"from": 30, "to": 35},
                                            "stage_3.name": {"from": "Map the organisation",
                                                             "to": "Map the buying centre"}}
        # Open opportunities in stage 3 now weigh 35%, without a version bump; stage 2 is untouched.
        got = (await world.client.get(f"/v1/opportunities/{in_three['id']}", headers=bearer(rep))).json()
        assert (got["probability"], got["version"], got["stage_name"]) == (35, 2, "Map the buying centre")
        assert (await world.client.get(f"/v1/opportunities/{in_two['id']}", headers=bearer(rep))).json()[
            "probability"] == 20
        moved = await world.client.post(f"/v1/opportunities/{in_two['id']}/stage", headers=bearer(rep),
                                        json={"stage": 3})
        assert moved.json()["probability"] == 35
