"""Territory plans (per territory and fiscal period, with approval) and rebalancing over HTTP; the
audit trail of team-svc's records (users, quotas, territory plans)."""
import uuid

from kam_shared.testing import feed
from team_svc.territory_plans.models import territory_placements, territory_plans, territory_rebalances


def label(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def account_event(account_id, owner, region):
    from kam_shared.events import AccountCreated, AccountState, DomainEvent
    state = AccountState(id=account_id, name=f"acct {account_id.hex[:4]}", region=region, industry="retail",
                         owner_id=uuid.UUID(owner["id"]), version=1)
    return DomainEvent("kam.account.created.v1", account_id, 1,
                       AccountCreated(account=state)).to_cloudevent("/kam/account-svc")


async def org(api, accounts_in_a=4):
    """A director above a manager above reps a and b; territory A (a's, with accounts) and B (b's, none)."""
    director = await api.user("manager")
    manager = await api.user("manager", superior=director["id"])
    rep_a = await api.user("rep", superior=manager["id"])
    rep_b = await api.user("rep", superior=manager["id"])
    outsider = await api.user("rep")
    admin = await api.admin()
    territories = {}
    for key, owner in (("a", rep_a), ("b", rep_b)):
        region = label(f"region-{key}")
        resp = await api.client.post("/v1/territories", headers=admin, json={
            "name": f"Territory {region}", "owner_id": owner["id"],
            "rules": [{"name": region, "priority": 700, "regions": [region]}]})
        assert resp.status_code == 201, resp.text
        territories[key] = {**resp.json(), "region": region}
    accounts = [uuid.uuid4() for _ in range(accounts_in_a)]
    await feed(api.runtime, *(account_event(a, rep_a, territories["a"]["region"]) for a in accounts))
    return dict(director=director, manager=manager, a=rep_a, b=rep_b, outsider=outsider, t=territories,
                accounts=accounts)


async def test_a_plan_goes_draft_submitted_approved_by_someone_above_the_manager(api, problem):
    o = await org(api)
    ta = o["t"]["a"]
    quota = await api.client.post("/v1/quotas", headers=await api.auth(o["manager"]), json={
        "owner_kind": "user", "owner_id": o["a"]["id"], "period": "FY2027", "currency": "CNY", "amount": "500000"})
    assert quota.status_code == 201, quota.text
    manager = await api.auth(o["manager"])
    resp = await api.client.post("/v1/territory-plans", headers=manager, json={
        "territory_id": ta["id"], "period": "fy2027",
        "objectives": [{"description": "Grow banking", "measure": "won revenue", "target": "500000"}],
        "target_account_ids": [str(o["accounts"][0])],
        "coverage": [{"user_id": o["a"]["id"], "role": "account_manager", "capacity_percent": 80},
                     {"user_id": o["b"]["id"], "role": "presales", "capacity_percent": 20}],
        "capacity_accounts": 2})
    assert resp.status_code == 201, resp.text
    plan = resp.json()
    assert resp.headers["location"] == f"/v1/territory-plans/{plan['id']}" and resp.headers["etag"] == '"1"'
    assert (plan["status"], plan["period"], plan["version"]) == ("draft", "FY2027", 1)
    assert (plan["quota_id"], plan["quota_amount"], plan["quota_status"]) == (quota.json()["id"], "500000.00", "draft")
    assert plan["covered"] == {"accounts": 4, "target_accounts_in_territory": 1, "capacity_accounts": 2,
                               "utilisation_percent": 200, "people": 2, "full_time_equivalent": 1.0}
    url = f"/v1/territory-plans/{plan['id']}"
    # The territory's manager changes and submits it; they cannot approve their own plan.
    mine = await api.auth(o["a"])
    changed = await api.client.patch(url, headers={**mine, "If-Match": '"1"'}, json={"capacity_accounts": 3})
    assert changed.status_code == 200 and changed.json()["capacity_accounts"] == 3, changed.text
    problem(await api.client.patch(url, headers={**mine, "If-Match": '"1"'}, json={"capacity_accounts": 4}), 412,
            "version")
    assert (await api.client.post(f"{url}/submit", headers=mine)).json()["status"] == "submitted"
    problem(await api.client.post(f"{url}/approve", headers=mine), 403, "above")
    problem(await api.client.patch(url, headers=mine, json={"capacity_accounts": 5}), 409, "submitted")
    rejected = await api.client.post(f"{url}/reject", headers=manager, json={"reason": "capacity too low"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "capacity too low"
    assert (await api.client.post(f"{url}/submit", headers=mine)).status_code == 200
    approved = await api.client.post(f"{url}/approve", headers=await api.auth(o["director"]))
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    assert approved.json()["decided_by"] == o["director"]["id"]

    # Events: created, then one updated per change, each with the whole plan.
    events = [e for e in await api.events_since(0) if e[1]["subject"] == plan["id"]]
    assert [t for t, _ in events] == ["kam.team.territory_plan_created.v1"] + ["kam.team.territory_plan_updated.v1"] * 5
    assert events[-1][1]["data"]["changes"]["status"] == {"from": "submitted", "to": "approved"}
    assert events[-1][1]["actor"] == o["director"]["id"]

    # Lists and reads follow visibility: an outsider gets 404, like for the history.
    listed = await api.client.get("/v1/territory-plans", headers=manager, params={"period": "FY2027"})
    assert plan["id"] in [p["id"] for p in listed.json()["items"]]
    outsider = await api.auth(o["outsider"])
    assert plan["id"] not in [p["id"] for p in (await api.client.get("/v1/territory-plans",
                                                                     headers=outsider)).json()["items"]]
    problem(await api.client.get(url, headers=outsider), 404, "not found")
    problem(await api.client.get(f"{url}/history", headers=outsider), 404, "not found")

    history = (await api.client.get(f"{url}/history", headers=mine)).json()["items"]
    assert [h["version"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert history[1]["changes"] == [{"field": "capacity_accounts", "from": 2, "to": 3}]
    assert history[1]["actor_id"] == o["a"]["id"] and history[-1]["actor_id"] == o["director"]["id"]
    assert {"field": "status", "from": "submitted", "to": "approved"} in history[-1]["changes"]

    # A second plan for the same territory and period is a conflict naming the first.
    dup = problem(await api.client.post("/v1/territory-plans", headers=manager,
                                        json={"territory_id": ta["id"], "period": "FY2027"}), 409, "period")
    assert dup["existing_id"] == plan["id"]


async def test_bad_plans_are_422_naming_the_field_and_write_nothing(api, problem):
    o = await org(api, accounts_in_a=1)
    manager = await api.auth(o["manager"])
    ta = o["t"]["a"]["id"]
    gone = await api.user("rep", superior=o["manager"]["id"])
    await api.client.patch(f"/v1/users/{gone['id']}", headers={**await api.admin(), "If-Match": '"1"'},
                           json={"active": False})
    before = await api.snapshot(territory_plans)
    for body, field in (({"period": "FY3001"}, "period"), ({"period": "2027-13"}, "period"),
                        ({"period": "next year"}, "period"),
                        ({"period": "FY2027", "territory_id": str(uuid.uuid4())}, "territory_id"),
                        ({"period": "FY2027", "target_account_ids": [str(uuid.uuid4())]}, "target_account_ids.0"),
                        ({"period": "FY2027", "coverage": [{"user_id": gone["id"]}]}, "coverage.0.user_id"),
                        ({"period": "FY2027", "capacity_accounts": -1}, "capacity_accounts")):
        resp = await api.client.post("/v1/territory-plans", headers=manager, json={"territory_id": ta, **body})
        body = problem(resp, 422, field)
        assert body.get("field") == field or any(e["field"].endswith(field) for e in body.get("errors", [])), body
    # A territory you may not see is as unknown as one that does not exist.
    resp = await api.client.post("/v1/territory-plans", headers=await api.auth(o["outsider"]),
                                 json={"territory_id": ta, "period": "FY2027"})
    assert problem(resp, 422, "territory_id")["field"] == "territory_id"
    assert await api.snapshot(territory_plans) == before


async def test_rebalance_proposal_and_applying_it_as_one_recorded_change(api, problem):
    o = await org(api, accounts_in_a=4)
    ta, tb = o["t"]["a"]["id"], o["t"]["b"]["id"]
    manager = await api.auth(o["manager"])
    plan = await api.client.post("/v1/territory-plans", headers=manager, json={
        "territory_id": ta, "period": "FY2028", "capacity_accounts": 1})
    assert plan.status_code == 201, plan.text
    resp = await api.client.get("/v1/territory-plans/rebalance-proposal", headers=manager,
                                params={"period": "FY2028"})
    assert resp.status_code == 200, resp.text
    proposal = resp.json()
    loads = {t["territory_id"]: t for t in proposal["territories"]}
    assert set(loads) == {ta, tb}  # the manager's own part of the organisation only
    assert (loads[ta]["accounts"], loads[ta]["target"], loads[ta]["capacity_from_plan"], loads[ta]["after"]) == (
        4, 1, True, 1)
    assert (loads[tb]["accounts"], loads[tb]["target"], loads[tb]["after"]) == (0, 3, 3)
    assert len(proposal["moves"]) == 3
    assert all((m["from_territory_id"], m["to_territory_id"], m["to_owner_id"]) == (ta, tb, o["b"]["id"])
               for m in proposal["moves"])
    problem(await api.client.get("/v1/territory-plans/rebalance-proposal", headers=manager,
                                 params={"period": "FY9999-Q5"}), 422, "period")

    # Bad moves: nothing written, nothing published.
    before = await api.snapshot(territory_rebalances, territory_placements)
    account = str(o["accounts"][0])
    for moves, field in (([{"account_id": str(uuid.uuid4()), "to_territory_id": tb}], "moves.0.account_id"),
                         ([{"account_id": account, "to_territory_id": str(uuid.uuid4())}], "moves.0.to_territory_id"),
                         ([{"account_id": account, "to_territory_id": ta}], "moves.0.to_territory_id"),
                         ([{"account_id": account, "to_territory_id": tb}] * 2, "moves.1.account_id")):
        resp = await api.client.post("/v1/territory-plans/rebalance", headers=manager, json={"moves": moves})
        assert problem(resp, 422, field)["field"] == field
    problem(await api.client.post("/v1/territory-plans/rebalance", headers=await api.auth(o["a"]), json={
        "moves": [{"account_id": account, "to_territory_id": tb}]}), 403, "manager")
    problem(await api.client.post("/v1/territory-plans/rebalance", headers=await api.auth(o["outsider"]), json={
        "moves": [{"account_id": account, "to_territory_id": tb}]}), 403, "manager")
    assert await api.snapshot(territory_rebalances, territory_placements) == before

    # Applying an edited proposal (two of the three moves) is one change and one event.
    moves = [{"account_id": m["account_id"], "to_territory_id": m["to_territory_id"]} for m in proposal["moves"][:2]]
    count = await api.outbox_count()
    done = await api.client.post("/v1/territory-plans/rebalance", headers=manager,
                                 json={"moves": moves, "reason": "even out the load", "period": "FY2028"})
    assert done.status_code == 201, done.text
    rebalance = done.json()
    assert done.headers["location"] == f"/v1/territory-plans/rebalances/{rebalance['id']}"
    assert [(m["account_id"], m["from_territory_id"], m["to_territory_id"]) for m in rebalance["moves"]] == [
        (m["account_id"], ta, tb) for m in moves]
    (event_type, event), = await api.events_since(count)
    assert event_type == "kam.team.territories_rebalanced.v1" and event["subject"] == rebalance["id"]
    assert event["data"]["moves"] == rebalance["moves"] and event["actor"] == o["manager"]["id"]
    assert (await api.client.get(f"/v1/territory-plans/rebalances/{rebalance['id']}",
                                 headers=manager)).json() == rebalance
    problem(await api.client.get(f"/v1/territory-plans/rebalances/{rebalance['id']}",
                                 headers=await api.auth(o["outsider"])), 404, "not found")

    # The capacity view and the next proposal see the accounts where the rebalance put them.
    view = (await api.client.get("/v1/capacity", headers=manager)).json()
    counts = {t["territory_id"]: t["accounts"] for t in view["territories"]}
    assert (counts[ta], counts[tb]) == (2, 2)
    again = (await api.client.get("/v1/territory-plans/rebalance-proposal", headers=manager,
                                  params={"period": "FY2028"})).json()
    assert len(again["moves"]) == 1
    covered = (await api.client.get(f"/v1/territory-plans/{plan.json()['id']}", headers=manager)).json()["covered"]
    assert covered["accounts"] == 2 and covered["utilisation_percent"] == 200


async def test_field_history_of_users_and_quotas_and_the_admin_query(api, problem):
    manager = await api.user("manager")
    rep = await api.user("rep", superior=manager["id"])
    admin = await api.admin()
    renamed = await api.client.patch(f"/v1/users/{rep['id']}", headers={**admin, "If-Match": '"1"'},
                                     json={"name": "Renamed Rep"})
    assert renamed.status_code == 200, renamed.text
    page = (await api.client.get(f"/v1/users/{rep['id']}/field-history", headers=await api.auth(rep))).json()
    assert [e["event_type"] for e in page["items"]] == ["kam.team.user_created.v1", "kam.team.user_updated.v1"]
    assert page["items"][1]["changes"] == [{"field": "name", "from": rep["name"], "to": "Renamed Rep"}]
    assert all("password" not in c["field"] for e in page["items"] for c in e["changes"])
    problem(await api.client.get(f"/v1/users/{uuid.uuid4()}/field-history", headers=admin), 404, "not found")
    # The older /history keeps its shape.
    assert isinstance((await api.client.get(f"/v1/users/{rep['id']}/history", headers=admin)).json(), list)

    quota = await api.client.post("/v1/quotas", headers=await api.auth(manager), json={
        "owner_kind": "user", "owner_id": rep["id"], "period": "FY2029", "currency": "CNY", "amount": "1000"})
    assert quota.status_code == 201, quota.text
    qid = quota.json()["id"]
    await api.client.patch(f"/v1/quotas/{qid}", headers=await api.auth(manager), json={"amount": "2000"})
    items = (await api.client.get(f"/v1/quotas/{qid}/field-history", headers=await api.auth(rep))).json()["items"]
    assert {"field": "amount", "from": "1000.00", "to": "2000.00"} in items[-1]["changes"]
    assert items[-1]["actor_id"] == manager["id"]
    problem(await api.client.get(f"/v1/quotas/{qid}/field-history", headers=await api.auth(await api.user())),
            404, "not found")

    found = (await api.client.get("/v1/admin/audit", headers=admin, params={
        "actor": manager["id"], "type": "kam.team.quota_updated.v1"})).json()["items"]
    assert [e["subject"] for e in found] == [qid]
    problem(await api.client.get("/v1/admin/audit", headers=await api.auth(manager)), 403, "admin")
